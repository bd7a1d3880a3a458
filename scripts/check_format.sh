#!/usr/bin/env bash
# Checks that the tracked C++ and CUDA sources (*.cpp *.hpp *.cu *.cuh) are formatted as the repo's
# .clang-format says. Lists the files that are not and exits 1; changes nothing. To fix them:
#   git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check_format: $CLANG_FORMAT not found (./scripts/setup.sh installs it)" >&2
  exit 2
fi

unformatted=()
while IFS= read -r -d '' file; do
  if ! "$CLANG_FORMAT" --style=file --dry-run -Werror "$file" >/dev/null 2>&1; then
    unformatted+=("$file")
  fi
done < <(
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -- '*.cpp' '*.hpp' '*.cu' '*.cuh'
  else  # an exported tree (git archive): the same files, build and output folders left out
    find . \( -path './build*' -o -path './out*' -o -path './.git' \) -prune -o -type f \
      \( -name '*.cpp' -o -name '*.hpp' -o -name '*.cu' -o -name '*.cuh' \) -printf '%P\0' | sort -z
  fi
)

if [ ${#unformatted[@]} -gt 0 ]; then
  echo "check_format: ${#unformatted[@]} file(s) not formatted ($("$CLANG_FORMAT" --version)):"
  printf '  %s\n' "${unformatted[@]}"
  echo "fix with: clang-format -i FILE..."
  exit 1
fi
echo "check_format: all files formatted"
