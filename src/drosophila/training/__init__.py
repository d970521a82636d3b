"""Training: chat/document encoding with loss masks, one trainer (full or LoRA), schedules."""

from drosophila.training.config import LoraSpec, TrainConfig
from drosophila.training.data import Example, chat_examples, document_examples, encode_chat
from drosophila.training.trainer import TrainResult, lr_at, masked_loss, train

__all__ = [
    "Example",
    "LoraSpec",
    "TrainConfig",
    "TrainResult",
    "chat_examples",
    "document_examples",
    "encode_chat",
    "lr_at",
    "masked_loss",
    "train",
]
