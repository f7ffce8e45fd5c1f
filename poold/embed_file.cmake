# Writes OUT: a C file holding the bytes of IN as `const char NAME[]` (with a
# terminating NUL) and `const size_t NAME_len` (without it).
# Run as: cmake -DIN=... -DOUT=... -DNAME=... -P embed_file.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" len)
math(EXPR len "${len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by embed_file.cmake; do not edit. */\n#include <stddef.h>\n\nconst char ${NAME}[] = { ${hex} 0 };\nconst size_t ${NAME}_len = ${len};\n")
configure_file(${OUT}.tmp ${OUT} COPYONLY)
