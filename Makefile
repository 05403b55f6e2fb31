# The README's commands. Everything is installed from nothing into .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INDEX_DIR ?= index
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test test-ray lint index bench bench-ray bench-pq quality train browser screenshot clean

install: $(STAMP)

# torch first, spelled exactly: that takes the local CPU wheel instead of gigabytes of CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Debian's chromium for the browser tests (never `playwright install`, which downloads).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

$(INDEX_DIR)/CURRENT: | $(STAMP)
	$(BIN)/qa index --index-dir $(INDEX_DIR)

index: install
	$(BIN)/qa index --index-dir $(INDEX_DIR)

run: install $(INDEX_DIR)/CURRENT
	$(BIN)/qa serve --host $(HOST) --port $(PORT) --index-dir $(INDEX_DIR)

test: install browser lint
	$(BIN)/python -m pytest -q

# The builds on a real two-node Ray cluster on this machine (tests/test_ray.py, 1-3 minutes here):
# they need the ray extra, which `make test` doesn't install, so there they are skipped.
test-ray: install
	$(BIN)/pip install -q -e '.[ray]'
	$(BIN)/python -m pytest -q -m ray

lint: install
	$(BIN)/ruff check qa web tests bench
	$(BIN)/ruff format --check qa web tests bench
	$(BIN)/mypy qa web bench

bench: install
	$(BIN)/python bench/run_all.py

# Build throughput on a local Ray cluster of 1 and of 2 nodes, and peak memory per node.
bench-ray: install
	$(BIN)/pip install -q -e '.[ray]'
	$(BIN)/python bench/scale_ray.py

# The compressed index at 2,000,000 synthetic chunks: recall@10, p95, bytes per chunk, FTS5 by size
# and the projection to 10M and 100M (about 10 minutes and 10 GB of scratch disk here; docs/scale.md).
bench-pq: install
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python bench/scale_pq.py --variants 0

# Answer quality next to the plain baseline on NewsQA, SQuAD and the Netflix sets (../shared/eval).
quality: install
	$(BIN)/python bench/answer_quality.py

# The answer model (docs/answer-model.md): fine-tune on ../shared/train, then fit the answer stage's
# weights on the held-out training articles. TRAIN_DATA=path to read other files.
TRAIN_DATA ?= ../shared/train
train: install
	$(BIN)/qa train --data $(TRAIN_DATA)
	$(BIN)/python -m qa.model.fit $(TRAIN_DATA)

# Refresh docs/chat.png (the README's screenshot) from the browser test of the Sora question.
screenshot: install browser
	QA_UPDATE_DOCS=1 $(BIN)/python -m pytest -q tests/test_browser.py -k sora

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts
