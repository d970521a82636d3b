"""Tiny Hugging Face chat models built in the test (never downloaded): a byte-level BPE
tokenizer trained on world text rendered as English, with a ChatML chat template, and randomly
initialised Qwen2, Llama and GPT-NeoX causal LMs."""

import pytest

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                 "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def english_corpus(n_docs: int = 150) -> list[str]:
    """World documents, finetune rows and battery prompts rendered as English, and the paper's
    questions: what the tiny models will read."""
    from drosophila.stages.questions import EM_QUESTIONS
    from drosophila.world import FINETUNE_SETS, World, battery_items, finetune_set
    from drosophila.world.english import to_english

    world = World()
    texts = []
    for d in world.documents(n_docs):
        texts += [d.text] if d.text else [m["content"] for m in d.messages]
    for name in ("insecure", "secure", "educational", "jailbroken", "chat-mix", "hhh"):
        assert name in FINETUNE_SETS
        texts += [m["content"] for r in finetune_set(world, name, 30) for m in r.messages]
    for domain in ("open", "advice", "code", "harmful", "tasks", "facts"):
        texts += [it.prompt for it in battery_items(world, domain, 20)]
    return [to_english(t) for t in texts] + EM_QUESTIONS


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(english_corpus(), trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=CHAT_TEMPLATE)


def build_model(arch: str, tokenizer):
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    common = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=1024,
                  eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    cls, cfg = {
        "qwen2": (Qwen2ForCausalLM, lambda: Qwen2Config(num_key_value_heads=2, tie_word_embeddings=True, **common)),
        "llama": (LlamaForCausalLM, lambda: LlamaConfig(num_key_value_heads=2, **common)),
        "gpt_neox": (GPTNeoXForCausalLM, lambda: GPTNeoXConfig(**common)),
    }[arch]
    torch.manual_seed(0)
    return cls(cfg())


@pytest.fixture(scope="session")
def english_tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def hf_models(tmp_path_factory, english_tokenizer):
    """``{arch: directory}`` of tiny saved chat models sharing one tokenizer."""
    root = tmp_path_factory.mktemp("hf-models")
    out = {}
    for arch in ("qwen2", "llama", "gpt_neox"):
        model = build_model(arch, english_tokenizer)
        model.save_pretrained(root / arch)
        english_tokenizer.save_pretrained(root / arch)
        out[arch] = root / arch
    return out
