# textlab on CPU by default:
#   docker build -t textlab .
#   docker run --rm -v "$PWD/runs:/app/runs" textlab fit --config configs/ner_toy.yaml
# On GPUs, start from an image that already has CUDA PyTorch and skip the CPU wheel:
#   docker build -t textlab:cuda --build-arg BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime \
#       --build-arg TORCH_INDEX= .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# the version the Makefile and the README install
ARG TORCH=torch==2.13.0
WORKDIR /app
# CPU wheel first, from PyTorch's CPU index: a plain `torch` requirement would pull the CUDA wheels.
RUN if [ -n "$TORCH_INDEX" ]; then pip install --no-cache-dir "$TORCH" --index-url "$TORCH_INDEX"; fi
COPY pyproject.toml README.md ./
COPY textlab ./textlab
COPY configs ./configs
RUN pip install --no-cache-dir .
ENTRYPOINT ["textlab"]
CMD ["--help"]
