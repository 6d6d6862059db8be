# Turns a binary file into a C++ source defining one byte array and an accessor.
#   cmake -DINPUT=x.bin -DOUTPUT=x_blob.cc -DSYMBOL=name -P embed.cmake
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "// Generated from ${INPUT} by guest-firmware/cmake/embed.cmake. Do not edit.\n"
  "#include <cstdint>\n#include <span>\n\nnamespace kvpc::firmware {\n"
  "alignas(16) static const uint8_t k_${SYMBOL}[${size} + 1] = {\n${bytes}0};\n"
  "std::span<const uint8_t> ${SYMBOL}() { return {k_${SYMBOL}, ${size}}; }\n}  // namespace kvpc::firmware\n")
