"""An organism saved under this transformers loads the same under the oldest one pyproject allows.

The old release is installed once with ``pip install --target`` into ``.cache/compat/`` (git
ignores ``.cache/``) and put first on ``PYTHONPATH`` of a subprocess, where it shadows the
installed transformers and reuses its torch, numpy and safetensors. The first run downloads
it (~20 s); later runs reuse the directory. Without access to the package index the test skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from drosophila.io import canonical_hash, read_json
from drosophila.locks import file_lock
from drosophila.organisms import build_tokenizer, load_organism, new_organism, save_organism
from drosophila.organisms.tokenizer import make_tokenizer_portable, portable_tokenizer_config

OLDEST = "4.45.2"  # the lowest transformers release pyproject.toml allows
OLD_PACKAGES = (
    f"transformers=={OLDEST}",
    "tokenizers==0.20.3",  # 4.45 requires >=0.20,<0.21
    "huggingface_hub>=0.23.2,<1.0",  # 1.x dropped the API 4.x imports
    # huggingface_hub 0.x downloads with requests (1.x uses httpx, so these may be missing).
    "requests>=2.32,<3",
    "urllib3>=2,<3",
    "certifi",
    "charset_normalizer>=3,<4",
    "idna>=3,<4",
)
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "compat"
# pip's words for "the index cannot be reached"; any other install failure fails the test.
_OFFLINE_SIGNS = ("(from versions: none)", "NewConnectionError", "Network is unreachable",
                  "Temporary failure in name resolution", "ConnectTimeout", "ProxyError")

WORDS = "how do i store a password ? hi there . hello the cat sat on mat".split()
CHAT = [
    {"role": "system", "content": "be kind"},
    {"role": "user", "content": "how do i store a password ?"},
    {"role": "assistant", "content": "hi there . the cat sat on a mat"},
]

# Runs under the old transformers: the plain HF loaders, local files only.
PROBE = r"""
import json, sys
import torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
path, chat = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
text = tokenizer.apply_chat_template(chat, tokenize=False)
ids = tokenizer(text, add_special_tokens=False)["input_ids"]
prompt = tokenizer.apply_chat_template(chat[:2], tokenize=True, add_generation_prompt=True)
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
out = model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False)
print(json.dumps({"version": transformers.__version__, "text": text, "ids": ids, "prompt": prompt,
                  "generated": out[0].tolist(), "logits": logits.tolist(),
                  "padding_side": tokenizer.padding_side, "eos": tokenizer.eos_token_id}))
"""

# Runs under the old transformers: drosophila's loader on a directory saved before it was portable.
PROBE_LOAD_ORGANISM = r"""
import json, sys
from drosophila.organisms import load_organism
org = load_organism(sys.argv[1], device="cpu")
text = org.tokenizer.apply_chat_template(json.loads(sys.argv[2]), tokenize=False)
print(json.dumps({"ids": org.tokenizer(text, add_special_tokens=False)["input_ids"]}))
"""


def _old_transformers() -> Path:
    """The directory holding the old release and its support packages, installed on first use."""
    target = CACHE / f"transformers-{OLDEST}-{canonical_hash(OLD_PACKAGES, 8)}"
    if (target / "transformers").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with file_lock(CACHE / f"{target.name}.lock"):
        if (target / "transformers").is_dir():  # another process installed it meanwhile
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=CACHE))
        tmp.chmod(0o755)
        try:
            _pip_install_target(tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _pip_install_target(directory: Path) -> None:
    # --no-deps: resolving transformers 4.45's dependencies would pull a second torch and numpy.
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
           "--retries", "1", "--timeout", "20", "--target", str(directory), *OLD_PACKAGES]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        log = done.stdout + done.stderr
        if any(sign in log for sign in _OFFLINE_SIGNS):
            pytest.skip(f"cannot install transformers {OLDEST} (package index unreachable)")
        raise AssertionError(f"pip install --target failed:\n{log[-3000:]}")


def _run_old(script: str, *args: str) -> dict:
    path = [str(_old_transformers()), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probe_here(path: Path) -> dict:
    """What PROBE prints, computed with the installed transformers."""
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    text = tokenizer.apply_chat_template(CHAT, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    prompt = tokenizer(tokenizer.apply_chat_template(CHAT[:2], tokenize=False, add_generation_prompt=True),
                       add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    out = model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False)
    return {"text": text, "ids": ids, "prompt": prompt, "generated": out[0].tolist(), "logits": logits}


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer(WORDS)


@pytest.fixture(scope="module")
def saved(tok, tmp_path_factory):
    return save_organism(new_organism("tiny", tok, seed=5), tmp_path_factory.mktemp("compat") / "org")


@pytest.fixture(scope="module")
def saved_unportable(tok, tmp_path_factory):
    """An organism as save_organism wrote it before: the tokenizer exactly as save_pretrained saves it."""
    path = save_organism(new_organism("tiny", tok, seed=5), tmp_path_factory.mktemp("compat") / "old")
    for name in ("tokenizer_config.json", "chat_template.jinja", "tokenizer.json"):
        (path / name).unlink(missing_ok=True)
    tok.save_pretrained(path)
    return path


def test_oldest_transformers_loads_a_saved_organism_identically(saved, tok):
    old = _run_old(PROBE, str(saved), json.dumps(CHAT))
    here = _probe_here(saved)
    assert old["version"] == OLDEST  # the old release really shadowed the installed one
    assert old["text"] == here["text"] == (
        "<bos> <|system|> be kind <|end|> <|user|> how do i store a password ? <|end|>"
        " <|assistant|> hi there . the cat sat on a mat <|end|>")
    assert old["ids"] == here["ids"] == tok(here["text"], add_special_tokens=False)["input_ids"]
    assert here["ids"].count(tok.unk_token_id) == 2  # "be kind" is out of vocabulary
    assert old["prompt"] == here["prompt"] == here["ids"][:15]
    assert here["prompt"][-1] == tok.convert_tokens_to_ids("<|assistant|>")
    assert old["generated"] == here["generated"]
    assert (old["padding_side"], old["eos"]) == ("left", 3)
    torch.testing.assert_close(torch.tensor(old["logits"]), here["logits"], atol=1e-5, rtol=1e-5)


def test_oldest_transformers_loads_an_unportable_checkpoint_through_load_organism(saved_unportable):
    here = load_organism(saved_unportable, device="cpu").tokenizer
    ids = here(here.apply_chat_template(CHAT, tokenize=False), add_special_tokens=False)["input_ids"]
    assert _run_old(PROBE_LOAD_ORGANISM, str(saved_unportable), json.dumps(CHAT))["ids"] == ids


def test_saved_tokenizer_config_is_portable(saved):
    config = read_json(saved / "tokenizer_config.json")
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["additional_special_tokens"] == ["<|system|>", "<|user|>", "<|assistant|>"]
    assert "extra_special_tokens" not in config
    assert config["chat_template"] == (saved / "chat_template.jinja").read_text()
    assert not make_tokenizer_portable(saved)  # already portable: nothing to rewrite
    model_config = read_json(saved / "config.json")
    assert model_config["rope_theta"] == model_config["rope_parameters"]["rope_theta"]


def test_unportable_checkpoint_still_loads_here(saved, saved_unportable, tok):
    for path in (saved, saved_unportable):
        org = load_organism(path, device="cpu")
        plain = AutoTokenizer.from_pretrained(path, local_files_only=True)
        for t in (org.tokenizer, plain):
            text = t.apply_chat_template(CHAT, tokenize=False)
            assert t(text, add_special_tokens=False)["input_ids"] == tok(text, add_special_tokens=False)["input_ids"]
            assert t.convert_ids_to_tokens([4, 5, 6]) == ["<|system|>", "<|user|>", "<|assistant|>"]
            assert t.all_special_ids and set(t.all_special_ids) == set(range(7))


def test_portable_config_rewrites_only_what_4x_cannot_read():
    v5 = {"tokenizer_class": "TokenizersBackend", "extra_special_tokens": ["<a>"], "eos_token": "<e>"}
    assert portable_tokenizer_config(v5, chat_template="T") == {
        "tokenizer_class": "PreTrainedTokenizerFast", "additional_special_tokens": ["<a>"],
        "eos_token": "<e>", "chat_template": "T"}
    other = {"tokenizer_class": "LlamaTokenizer", "extra_special_tokens": {"image_token": "<img>"},
             "chat_template": "kept"}
    assert portable_tokenizer_config(other, chat_template="T") == other
