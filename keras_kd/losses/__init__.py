"""Distillation losses: each a pure function plus a small registered class."""

from keras_kd.losses.base import DistillationLoss
from keras_kd.losses.base import ModelOutputs
from keras_kd.losses.base import get
from keras_kd.losses.base import register
from keras_kd.losses.base import registered_names
from keras_kd.losses.soft_target import SoftTargetKD
from keras_kd.losses.soft_target import soft_target_kd
