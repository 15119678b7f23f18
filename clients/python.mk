# clients/python.mk — builds the Python bridge (`--engine python:MODULE:FACTORY`,
# clients/engine_host_py.c) where libpython is installed, and leaves it out
# (the bridge then says how to get it) where it is not.
#
# The Makefile includes this file after O, ALL_CFLAGS and LIBS are set:
#     include clients/python.mk
# Detection uses pkg-config's `python3-embed`, which Debian's libpython3-dev
# installs (it is `python3-config --embed` in pkg-config form, and is not
# fooled by another python3-config earlier on PATH). `make PYTHON=no` builds
# without the bridge. The headers are included with -isystem so the
# project's warning flags apply to our code only.
PYTHON ?= auto
ifneq ($(PYTHON),no)
PY_EMBED_CFLAGS := $(shell pkg-config --cflags python3-embed 2>/dev/null)
PY_EMBED_LIBS   := $(shell pkg-config --libs python3-embed 2>/dev/null)
ifneq ($(strip $(PY_EMBED_LIBS)),)
$(O)/clients/engine_host_py.o: ALL_CFLAGS += -DSAGELLM_HAVE_PYTHON \
    $(patsubst -I%,-isystem %,$(PY_EMBED_CFLAGS))
LIBS += $(PY_EMBED_LIBS)
endif
endif
