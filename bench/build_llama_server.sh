#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` from the source llama-cpp-python vendors, for W20's
# comparison column (issue #14). The source is llama-cpp-python's sdist of the version
# installed in .venv, fetched by pip (never a prebuilt binary); the CPU flags are the
# portable ones scripts/setup gives pip, so both sides run the same kernels. Cached under
# .cache/llama-server/: a second run only prints the binary's path.
#
#   bash bench/build_llama_server.sh        # prints the path of llama-server
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
version=$($py -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
root=.cache/llama-server
src=$root/llama_cpp_python-$version/vendor/llama.cpp
build=$root/build-$version
bin=$build/bin/llama-server
if [ ! -x "$bin" ]; then
  mkdir -p "$root"
  if [ ! -f "$src/CMakeLists.txt" ]; then
    $py -m pip download -q --no-deps --no-binary :all: -d "$root" "llama-cpp-python==$version" >&2
    tar xzf "$root/llama_cpp_python-$version.tar.gz" -C "$root"
  fi
  # Same CPU flags as scripts/setup; no web UI (it would be fetched), no HTTPS client.
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    ${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON} \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF >&2
  cmake --build "$build" --target llama-server -j "${JOBS:-2}" >&2
fi
echo "$bin"
