#pragma once
// A synthetic tick stream for a market: placeholder, filled in with `generate --ticks`.
