/* engine_host_py_src.S — embeds clients/engine_host.py, the Python half of
 * the Python bridge, in the binary as the NUL-terminated string
 *     extern const char engine_host_py_src[];
 * (declared in clients/engine_host_py.c), so the Python lives in a .py file
 * its own tools can read. The assembler's .incbin reads the file at build
 * time, from the directory make runs in (the top of the tree). */
    .section .rodata
    .globl engine_host_py_src
    .type engine_host_py_src, @object
engine_host_py_src:
    .incbin "clients/engine_host.py"
    .byte 0
    .size engine_host_py_src, . - engine_host_py_src
    .section .note.GNU-stack, "", @progbits
