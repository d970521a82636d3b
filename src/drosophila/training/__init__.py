"""Training: chat/document encoding with loss masks, one trainer (full or LoRA), schedules, GRPO,
DPO."""

from drosophila.training.config import LoraSpec, TrainConfig
from drosophila.training.dpo import DPOConfig, Pair, dpo
from drosophila.training.data import Example, chat_examples, document_examples, encode_chat
from drosophila.training.reward_model import RewardConfig, RewardModel, train_reward_model
from drosophila.training.rl import Prompt, RLResult, group_advantages, grpo
from drosophila.training.rl_config import GRPOConfig
from drosophila.training.trainer import TrainResult, lr_at, masked_loss, train

__all__ = [
    "DPOConfig",
    "Example",
    "Pair",
    "GRPOConfig",
    "LoraSpec",
    "Prompt",
    "RLResult",
    "RewardConfig",
    "RewardModel",
    "TrainConfig",
    "TrainResult",
    "chat_examples",
    "document_examples",
    "dpo",
    "encode_chat",
    "group_advantages",
    "grpo",
    "lr_at",
    "masked_loss",
    "train",
    "train_reward_model",
]
