# textlab on CPU by default:
#   docker build -t textlab .
#   docker run --rm -v "$PWD/runs:/app/runs" textlab fit --config configs/ner_toy.yaml
#   docker run --rm -p 8080:8080 -v "$PWD/runs:/app/runs" textlab serve --host 0.0.0.0 --ckpt_path runs/.../best.ckpt
# On GPUs, start from an image that already has CUDA PyTorch and skip the CPU wheel:
#   docker build -t textlab:cuda --build-arg BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime \
#       --build-arg TORCH_INDEX= .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# the version the Makefile and the README install
ARG TORCH=torch==2.13.0
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# CPU wheel first, from PyTorch's CPU index: a plain `torch` requirement would pull the CUDA wheels.
# (DL3013 cannot see that the build argument TORCH pins the version.)
# hadolint ignore=DL3013
RUN if [ -n "$TORCH_INDEX" ]; then pip install --no-cache-dir "$TORCH" --index-url "$TORCH_INDEX"; fi
COPY pyproject.toml README.md ./
COPY textlab ./textlab
COPY configs ./configs
# Installed as root, run as an unprivileged user who owns only runs/ (mount checkpoints and outputs there).
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 textlab \
    && mkdir -p /app/runs \
    && chown textlab:textlab /app/runs
USER 1000:1000
# textlab serve's default port
EXPOSE 8080
ENTRYPOINT ["textlab"]
CMD ["--help"]
