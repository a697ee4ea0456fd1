"""Distillation losses: each a pure function plus a small registered class."""

from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.base import ModelOutputs
from keras_kd.losses.base import get
from keras_kd.losses.base import register
from keras_kd.losses.base import registered_names
from keras_kd.losses.soft_target import SoftTargetKD
from keras_kd.losses.soft_target import soft_target_kd
from keras_kd.losses.attention import AttentionTransfer
from keras_kd.losses.attention import attention_map
from keras_kd.losses.attention import attention_transfer
from keras_kd.losses.dist import DIST
from keras_kd.losses.dist import dist_loss
from keras_kd.losses.dkd import DKD
from keras_kd.losses.dkd import decoupled_kd
from keras_kd.losses.fitnet import FitNetHint
from keras_kd.losses.fitnet import hint_distance
from keras_kd.losses.rkd import RKD
from keras_kd.losses.rkd import rkd_loss
