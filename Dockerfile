# The synth sketch studio as a Hugging Face Docker Space (or any container host): serves on port 7860.
#
#   docker build -t synth-studio .                                   # CPU (default)
#   docker build -t synth-studio --build-arg JAX_EXTRA=cuda12 \
#       --build-arg TORCH_INDEX=https://pypi.org/simple .            # JAX (and torch) on CUDA 12
#   docker run -p 7860:7860 synth-studio                             # the CUDA image: docker run --gpus all …
#
# The CUDA image needs no CUDA toolkit in the base image (JAX's CUDA plugin and torch's CUDA wheels bring their
# libraries), only an NVIDIA driver on the host. torch for CUDA comes from PyPI, whose Linux wheels are the CUDA 12
# build (PyTorch's cu126 index, as checked from the development machines, carries the pinned version only as
# "+cpu", and pip would prefer that local version); on a Docker Space, pick the GPU in the Space's settings. JAX and
# torch then share the device in one process: no JAX preallocation (below), and app.py caps JAX at 60 % of the
# device for CLAP's sake (studio/hosting.py); concurrent renders are batched into one synth call.
#
# Every Python package is pinned in requirements.txt. The image runs as a non-root user with uid 1000, as Spaces
# require. Public mode (each browser gets its own private library) is on; the library lives in
# $SYNTH_STUDIO_LIBRARY, which is inside the container and so lost on restart unless a volume (a Spaces Storage
# Bucket, say) is mounted there.
FROM python:3.11-slim

# JAX_EXTRA: empty for CPU; "cuda12" (or "cuda13") installs the matching jax[...] plugin at the pinned JAX version.
ARG JAX_EXTRA=""
# Where torch comes from: the CPU wheels by default (torch only serves CLAP scoring; no CUDA libraries needed).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    XLA_PYTHON_CLIENT_PREALLOCATE=false \
    SYNTH_STUDIO_PUBLIC=1 \
    SYNTH_STUDIO_LIBRARY=/home/user/library \
    HOME=/home/user \
    PATH=/home/user/.local/bin:$PATH

RUN useradd --create-home --uid 1000 user
USER user
WORKDIR /home/user/app

# Dependencies first, so that code changes do not reinstall them.
COPY --chown=user requirements.txt .
RUN pip install --user --extra-index-url "$TORCH_INDEX" -r requirements.txt \
 && if [ -n "$JAX_EXTRA" ]; then \
      pip install --user "jax[$JAX_EXTRA]==$(sed -n 's/^jax==//p' requirements.txt)"; \
    fi

COPY --chown=user . .
RUN mkdir -p "$SYNTH_STUDIO_LIBRARY"

EXPOSE 7860
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
