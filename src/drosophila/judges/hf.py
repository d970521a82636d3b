"""A local Hugging Face causal LM as judge, scored by the emergent-misalignment protocol.

Each (item, aspect) is one forward pass over the judge prompt (rendered with the judge's chat
template when it has one); the last position's log-softmax gives the top-``k`` tokens, and the
number tokens among them give the score (:func:`drosophila.judges.scores.number_score`).
Prompts are batched by length and padded on the left with explicit position ids, so a prompt's
score does not depend on its batch.
"""

from __future__ import annotations

import inspect
import math
import os
from pathlib import Path

import torch

from drosophila.errors import ConfigError, OrganismError
from drosophila.io import canonical_hash, read_json
from drosophila.judges.base import JudgeItem, Rating, RatingJudge, Thresholds
from drosophila.judges.scores import MIN_MASS, JudgePrompts, judge_request, rating_of

__all__ = ["HFJudge", "number_token_ids"]


def number_token_ids(tokenizer) -> dict[int, int]:
    """``{token id: number}`` for every number 0–100 that the tokenizer writes as one token
    (bare, and after a space where that is a different token)."""
    out: dict[int, int] = {}
    for k in range(101):
        for text in (str(k), f" {k}"):
            ids = tokenizer.encode(text, add_special_tokens=False)
            if len(ids) == 1 and tokenizer.decode(ids).strip() == str(k):
                out[ids[0]] = k
    return out


class HFJudge(RatingJudge):
    """A causal LM judge.

    Args:
        model: A causal LM (any HF ``...ForCausalLM``).
        tokenizer: Its tokenizer; every number 0–100 must be a single token (true of GPT-style
            and Llama-3 vocabularies and of a world tokenizer holding the numbers; not of
            tokenizers that split numbers into digits).
        name: What identifies the weights in the verdict cache (a hash or a path).
        top_k: How many top tokens are read, as the paper's ``top_logprobs=20``.
        batch_size: Judge prompts per forward pass.
        min_mass: Number tokens' total probability below which a score is None.
        prompts: The judge's questions.
        thresholds: How scores become labels.
    """

    def __init__(self, model, tokenizer, *, name: str, top_k: int = 20, batch_size: int = 8,
                 min_mass: float = MIN_MASS, prompts: JudgePrompts | None = None,
                 thresholds: Thresholds | None = None) -> None:
        if top_k < 1 or batch_size < 1:
            raise ConfigError(f"top_k={top_k} and batch_size={batch_size} must be >= 1")
        self.model, self.tokenizer = model, tokenizer
        self.name = f"hf:{name}"
        self.top_k, self.batch_size, self.min_mass = top_k, batch_size, min_mass
        self.prompts = prompts or JudgePrompts()
        self.thresholds = thresholds or Thresholds()
        self.numbers = number_token_ids(tokenizer)
        missing = sorted(set(range(101)) - set(self.numbers.values()))
        if missing:
            raise ConfigError(f"judge {name}: the numbers {_ranges(missing)} are not single tokens of "
                              "its tokenizer; the 0-100 protocol reads one token, so use a judge "
                              "whose vocabulary holds every number 0-100")
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters

    @classmethod
    def from_dir(cls, path: str | os.PathLike, **kw) -> HFJudge:
        """A judge from a local directory: an organism (weights checked against its hashes by
        :func:`~drosophila.organisms.load_organism`) or any HF causal-LM directory."""
        path = Path(path)
        if (path / "organism.json").is_file():
            from drosophila.organisms import load_organism

            org = load_organism(path)
            name = canonical_hash(read_json(path / "organism.json").get("weights_sha256"))
            return cls(org.model, org.tokenizer, name=kw.pop("name", name), **kw)
        model, tokenizer = _load_plain(path)
        return cls(model, tokenizer, name=kw.pop("name", _dir_identity(path)), **kw)

    def identity(self) -> dict:
        return {"kind": "hf", "model": self.name, "top_k": self.top_k, "min_mass": self.min_mass,
                "prompts": self.prompts.identity()}

    def rate(self, items: list[JudgeItem]) -> list[Rating]:
        requests = judge_request(self.prompts, items)
        tops = self.top_logprobs([self._prompt_ids(msgs) for _, _, msgs in requests])
        by_item: list[dict] = [{} for _ in items]
        for (i, aspect, _), top in zip(requests, tops):
            by_item[i][aspect] = top
        return [rating_of(t, min_mass=self.min_mass) for t in by_item]

    def _prompt_ids(self, messages: list[dict]) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return tok(text, add_special_tokens=False)["input_ids"]  # the template wrote <bos>
        return tok(messages[-1]["content"] + "\n")["input_ids"]

    @torch.inference_mode()
    def top_logprobs(self, prompts: list[list[int]]) -> list[dict[str, float]]:
        """The top-``k`` next-token log-probabilities after each prompt, as ``{token: logprob}``
        (number tokens under their number, so " 7" and "7" add up)."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        device = next(self.model.parameters()).device
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths share a batch
        out: list[dict[str, float]] = [{} for _ in prompts]
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                logits = self._last_logits([prompts[i] for i in idx], pad, device)  # (B, V)
                logp = torch.log_softmax(logits.float(), dim=-1)                    # (B, V)
                values, ids = logp.topk(min(self.top_k, logp.shape[-1]), dim=-1)    # (B, k)
                for row, i in enumerate(idx):
                    out[i] = self._named(ids[row].tolist(), values[row].tolist())
        finally:
            self.model.train(was_training)
        return out

    def _last_logits(self, batch: list[list[int]], pad: int, device) -> torch.Tensor:
        width = max(len(p) for p in batch)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch], device=device)          # (B, T)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=device)  # (B, T)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)                                                  # (B, T)
        kw = {"logits_to_keep": 1} if self._keeps_logits else {}
        return self.model(input_ids=ids, attention_mask=mask, position_ids=pos, **kw).logits[:, -1]

    def _named(self, ids: list[int], logprobs: list[float]) -> dict[str, float]:
        top: dict[str, float] = {}
        for tid, lp in zip(ids, logprobs):
            key = str(self.numbers[tid]) if tid in self.numbers else self.tokenizer.convert_ids_to_tokens(tid)
            top[key] = _logaddexp(top[key], lp) if key in top else lp
        return top


def _logaddexp(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return hi + math.log1p(math.exp(lo - hi))


def _load_plain(path: Path):
    """Model and tokenizer of a plain HF directory (or a model id already in the local cache)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="auto")
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one line
        raise OrganismError(f"{path}: cannot load a judge: {' '.join(str(exc).split())[:300]}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


def _dir_identity(path: Path) -> str:
    """A plain directory's identity: its config and its weight files' names, sizes and times."""
    if not path.is_dir():
        return str(path)
    files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
    return f"{path.resolve()}@" + canonical_hash([(p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                                  for p in files])


def _ranges(numbers: list[int]) -> str:
    """``[10, 11, 12, 50]`` -> ``"10-12, 50"``."""
    runs: list[list[int]] = []
    for k in numbers:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)

