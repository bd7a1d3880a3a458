#include "generate_ticks.hpp"
