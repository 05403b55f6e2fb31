"""`qa train`: fine-tune the embedding model's top layers so a question lands next to its answer.

Data: question → the sentence of its paragraph that holds the answer (the positive), and the
paragraph's other sentence that shares most words with the question (a hard negative: exactly the
sentence word-overlap signals confuse with the answer). The loss is the usual in-batch softmax
(multiple-negatives ranking): each question must pick its positive among every positive and hard
negative of the batch. Only the top `layers` encoder layers learn; the rest stay the packaged base,
so the shipped delta is those layers in fp16.

Every choice is fixed by the seed, and the log (printed and written to the card) records the data
used, the steps, the time and the dev scores before and after.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qa.chunk import split_sentences
from qa.config import DEFAULT_MODEL
from qa.errors import BadInput
from qa.ingest import make_document
from qa.model import BUNDLED, CARD_FILE, DELTA_FILE, fingerprint
from qa.text import terms

# The training files (see ../shared/train/README.md) and how each names its answer's position.
SOURCES = (
    "squad-v1.1-train.jsonl.gz",
    "nq-qed-train.jsonl.gz",
    "squadshifts-new-wiki.jsonl.gz",
    "selqa-ass-devtest.jsonl.gz",
)
# One title in DEV_EVERY is held out of training to score the model (whole articles, so no
# paragraph is seen in both).
DEV_EVERY = 25
DEV_PER_SOURCE = 300
QUESTION_TOKENS = 48
SENTENCE_TOKENS = 96


@dataclass(frozen=True)
class Options:
    """What `qa train` does; the defaults are the shipped model's recipe."""

    data: Path = Path("../shared/train")
    out: Path = BUNDLED
    steps: int = 2000
    batch: int = 32
    layers: int = 3
    lr: float = 8e-5
    scale: float = 20.0
    seed: int = 13
    threads: int = 0


@dataclass(frozen=True)
class Example:
    """A question, the sentence that answers it, its paragraph's other sentences."""

    question: str
    positive: str
    others: tuple[str, ...]
    source: str

    def hard_negative(self) -> str:
        """The non-answer sentence sharing most of the question's terms (first on ties)."""
        q = set(terms(self.question))
        return max(self.others, key=lambda s: len(q.intersection(terms(s))), default="")


def _sentences(context: str, cache: dict[str, list[tuple[int, int, str]]]) -> list[tuple[int, int, str]]:
    found = cache.get(context)
    if found is None:
        doc = make_document("train", "", context)
        found = [(s.start, s.end, s.text) for s in split_sentences(doc)]
        cache[context] = found
    return found


def read_examples(data: Path) -> tuple[list[Example], list[Example]]:
    """Training and held-out examples from the training files; a clear error if none is there."""
    train: list[Example] = []
    dev: list[Example] = []
    cache: dict[str, list[tuple[int, int, str]]] = {}
    files = [data / name for name in SOURCES if (data / name).exists()]
    if not files:
        raise BadInput(f"no training data in {data}: expected some of {', '.join(SOURCES)}")
    for path in files:
        for row in rows(path):
            # SQuAD's positions are guesses when the answer occurs more than once: keep clean ones.
            if row.get("start_method") not in (None, "unique"):
                continue
            sents = _sentences(row["context"], cache)
            start = row["answer_starts"][0]
            at = [i for i, (s, e, _) in enumerate(sents) if s <= start < e]
            if not at:
                continue
            i = at[0]
            others = tuple(t for j, (_, _, t) in enumerate(sents) if j != i)
            ex = Example(row["question"], sents[i][2], others, row["source"])
            (dev if held_out_title(row["title"]) else train).append(ex)
    return train, dev


def held_out_title(title: str) -> bool:
    """Is this article held out of training (for dev scores and for fitting the answer stage)?"""
    return zlib.crc32(title.encode()) % DEV_EVERY == 0


def rows(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a gzipped JSONL training file."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def dev_slice(dev: list[Example], rng: random.Random) -> list[Example]:
    """Up to DEV_PER_SOURCE held-out questions per source whose paragraph has other sentences."""
    out: list[Example] = []
    by_source: dict[str, list[Example]] = {}
    for ex in dev:
        if ex.others:
            by_source.setdefault(ex.source, []).append(ex)
    for source in sorted(by_source):
        rows = by_source[source]
        out += rng.sample(rows, min(DEV_PER_SOURCE, len(rows)))
    return out


class Trainer:
    """The base model with its top layers made trainable, in the same code as inference."""

    def __init__(self, layers: int, threads: int) -> None:
        import torch
        from tokenizers import Tokenizer

        from qa.embed import DirectBert, configure_threads, direct_plan, resolve_model

        configure_threads(threads)
        root = resolve_model(DEFAULT_MODEL)
        plan = direct_plan(root)
        if plan is None:
            raise BadInput(f"the base model at {root} does not load on the direct path")
        self.torch = torch
        self.bert = DirectBert(plan, "float32", pack=False)
        self.first = len(self.bert._layers) - layers
        if not 0 <= self.first < len(self.bert._layers):
            raise BadInput(f"--layers must be between 1 and {len(self.bert._layers)}, not {layers}")
        trainable: list[Any] = []
        for n in range(self.first, len(self.bert._layers)):
            tensors = tuple(t.clone().requires_grad_(True) for t in self.bert._layers[n])
            self.bert._layers[n] = tensors  # type: ignore[assignment]
            trainable += tensors
        self.params = trainable
        from safetensors.torch import load_file

        self.base_fingerprint = fingerprint(load_file(str(Path(root) / "model.safetensors")))
        self.tokenizers = {}
        for limit in (QUESTION_TOKENS, SENTENCE_TOKENS):
            tok = Tokenizer.from_file(str(Path(root) / "tokenizer.json"))
            tok.enable_truncation(max_length=limit)
            tok.enable_padding(pad_id=0, pad_token="[PAD]")
            self.tokenizers[limit] = tok

    def encode(self, texts: list[str], limit: int) -> Any:
        """Normalised vectors, with gradients through the trainable layers."""
        torch = self.torch
        enc = self.tokenizers[limit].encode_batch(texts)
        ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
        return self.bert._forward(ids, mask)

    def loss(self, batch: list[Example], scale: float) -> Any:
        """In-batch softmax over every positive and hard negative of the batch."""
        torch = self.torch
        q = self.encode([ex.question for ex in batch], QUESTION_TOKENS)
        docs = [ex.positive for ex in batch] + [ex.hard_negative() or ex.positive for ex in batch]
        d = self.encode(docs, SENTENCE_TOKENS)
        logits = scale * q @ d.T
        return torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))

    def top1(self, examples: list[Example]) -> dict[str, float]:
        """Per source: how often the answer sentence ranks first among its paragraph's sentences."""
        hits: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        with self.torch.no_grad():
            for ex in examples:
                q = self.encode([ex.question], QUESTION_TOKENS)
                d = self.encode([ex.positive, *ex.others], SENTENCE_TOKENS)
                scores = (d @ q[0]).tolist()
                hits[ex.source] += int(scores[0] >= max(scores))
                seen[ex.source] += 1
        out = {s: round(hits[s] / seen[s], 4) for s in sorted(seen)}
        out["all"] = round(sum(hits.values()) / max(1, sum(seen.values())), 4)
        return out

    def delta(self) -> dict[str, Any]:
        """The trained layers under the base model's tensor names, in fp16."""
        from qa.embed import LAYER_TENSORS, QKV

        out: dict[str, Any] = {}
        for n in range(self.first, len(self.bert._layers)):
            wqkv, bqkv, *rest = (t.detach() for t in self.bert._layers[n])
            p = f"encoder.layer.{n}."
            for part, w, b in zip(QKV, wqkv.chunk(3), bqkv.chunk(3), strict=True):
                out[f"{p}attention.self.{part}.weight"] = w
                out[f"{p}attention.self.{part}.bias"] = b
            out.update({p + name: t for name, t in zip(LAYER_TENSORS, rest, strict=True)})
        return {k: v.to(self.torch.float16).contiguous() for k, v in out.items()}


def train(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, score, and write the delta and its card to `options.out`; returns the card."""
    import torch
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    rng = random.Random(options.seed)
    torch.manual_seed(options.seed)
    train_set, dev = read_examples(options.data)
    dev_set = dev_slice(dev, rng)
    rng.shuffle(train_set)
    used = train_set[: options.steps * options.batch]
    log(f"data: {len(train_set)} training questions ({dict(Counter(e.source for e in train_set))}), "
        f"{len(used)} used; {len(dev_set)} held-out questions from {len(dev)} held out")  # fmt: skip
    trainer = Trainer(options.layers, options.threads)
    before = trainer.top1(dev_set)
    log(f"dev top-1 before: {before}")
    optimiser = torch.optim.AdamW(trainer.params, lr=options.lr, weight_decay=0.01)
    steps = math.ceil(len(used) / options.batch)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    running = 0.0
    for step in range(steps):
        batch = used[step * options.batch : (step + 1) * options.batch]
        loss = trainer.loss(batch, options.scale)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainer.params, 1.0)
        optimiser.step()
        schedule.step()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step else value
        if (step + 1) % 50 == 0 or step + 1 == steps:
            log(f"step {step + 1}/{steps}  loss {running:.3f}  {time.perf_counter() - t0:.0f} s")
    after = trainer.top1(dev_set)
    log(f"dev top-1 after: {after}")
    tensors = trainer.delta()
    options.out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(options.out / DELTA_FILE))
    digest = hashlib.sha256((options.out / DELTA_FILE).read_bytes()).hexdigest()[:10]
    card = {
        "name": f"qa-answer-{digest}",
        "base": DEFAULT_MODEL,
        "base_fingerprint": trainer.base_fingerprint,
        "layers": list(range(trainer.first, len(trainer.bert._layers))),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "data": dict(Counter(e.source for e in used)),
        "steps": steps,
        "seconds": round(time.perf_counter() - t0),
        "dev_top1": {"before": before, "after": after},
    }
    (options.out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {options.out} ({card['name']}) in {card['seconds']} s")
    return card
