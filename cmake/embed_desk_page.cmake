# Turns the risk desk page (web/desk.html, docs/design.md 8.12) into a C++ header, so that
# `marginsync serve` answers `/` from its own binary: no file to install beside it, no path to get
# wrong, and the page always matches the server it came with.
#
#   cmake -DINPUT=web/desk.html -DOUTPUT=BUILD/generated/desk_page/desk_page.hpp -P embed_desk_page.cmake
#
# The page becomes a char array of '\xHH' literals, byte for byte (any byte, any length: a raw
# string literal would need a delimiter the page never contains, and compilers may refuse one over
# 64 KiB), followed by a NUL that desk_page_html_size leaves out. CMakeLists.txt runs this when
# the page or this script changes (add_custom_command ... DEPENDS).
if(NOT DEFINED INPUT OR NOT DEFINED OUTPUT)
  message(FATAL_ERROR "embed_desk_page.cmake: pass -DINPUT=PAGE -DOUTPUT=HEADER")
endif()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
if(size EQUAL 0)
  message(FATAL_ERROR "embed_desk_page.cmake: ${INPUT} is empty")
endif()

# "3c21..." -> "'\x3c','\x21',...", 16 bytes a line.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REPEAT "'\\\\x[0-9a-f][0-9a-f]'," 16 sixteen)  # CMake's regular expressions have no {16}
string(REGEX REPLACE "(${sixteen})" "\\1\n    " bytes "${bytes}")

get_filename_component(page_name "${INPUT}" NAME)
set(text "// Generated from web/${page_name} by cmake/embed_desk_page.cmake at build time: do not edit.
#pragma once
#include <cstddef>

namespace msync {

// The risk desk page that `marginsync serve` answers at `/` (docs/design.md 8.12), byte for byte,
// then a NUL (not counted in desk_page_html_size). Content-Type: text/html; charset=utf-8.
inline constexpr char desk_page_html[] = {
    ${bytes}'\\0'};
inline constexpr std::size_t desk_page_html_size = ${size};
static_assert(sizeof(desk_page_html) == desk_page_html_size + 1);

}  // namespace msync
")

file(WRITE "${OUTPUT}" "${text}")
