"""Distillation losses: each a pure function plus a small registered class.

Every loss module holds one family: pure functions on `keras.ops` and a thin
`DistillationLoss` subclass registered under a short name. A new loss is one
new module and one import line below (see `docs/adding_a_loss.md`); the
registry (`registered_names`, `describe`, `output_level_names`, `listing`)
then lists it everywhere names are listed.
"""

from keras_kd.losses.attention import AttentionTransfer
from keras_kd.losses.attention import attention_map
from keras_kd.losses.attention import attention_transfer
from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.base import ModelOutputs
from keras_kd.losses.base import get
from keras_kd.losses.base import with_temperature
from keras_kd.losses.binary import BinaryKD
from keras_kd.losses.binary import binary_kd
from keras_kd.losses.dist import DIST
from keras_kd.losses.dist import dist_loss
from keras_kd.losses.dkd import DKD
from keras_kd.losses.dkd import decoupled_kd
from keras_kd.losses.fitnet import FitNetHint
from keras_kd.losses.fitnet import hint_distance
from keras_kd.losses.mld import MLD
from keras_kd.losses.mld import multi_level_kd
from keras_kd.losses.registry import LossInfo
from keras_kd.losses.registry import describe
from keras_kd.losses.registry import listing
from keras_kd.losses.registry import names_where
from keras_kd.losses.registry import output_level_names
from keras_kd.losses.registry import register
from keras_kd.losses.registry import registered_names
from keras_kd.losses.registry import unregister
from keras_kd.losses.regression import HuberDistillation
from keras_kd.losses.regression import MSEDistillation
from keras_kd.losses.regression import huber_distillation
from keras_kd.losses.regression import mse_distillation
from keras_kd.losses.rkd import RKD
from keras_kd.losses.rkd import rkd_loss

# The losses: one module each, registered on import.
from keras_kd.losses.soft_target import SoftTargetKD
from keras_kd.losses.soft_target import soft_target_kd

__all__ = [
    # The contract and the registry.
    "DistillationLoss",
    "LossInfo",
    "ModelOutputs",
    "describe",
    "get",
    "listing",
    "names_where",
    "output_level_names",
    "register",
    "registered_names",
    "unregister",
    "with_temperature",
    # The losses.
    "AttentionTransfer",
    "BinaryKD",
    "DIST",
    "DKD",
    "FitNetHint",
    "HuberDistillation",
    "MLD",
    "MSEDistillation",
    "RKD",
    "SoftTargetKD",
    "attention_map",
    "attention_transfer",
    "binary_kd",
    "decoupled_kd",
    "dist_loss",
    "hint_distance",
    "huber_distillation",
    "mse_distillation",
    "multi_level_kd",
    "rkd_loss",
    "soft_target_kd",
]
