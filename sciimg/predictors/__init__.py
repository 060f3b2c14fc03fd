"""What a trained model computes, as plain torch modules: each task's network with its input
assembly and output decoding.

The Lightning tasks (:mod:`sciimg.tasks`) train a predictor; a trained model folder keeps its
options and weights, so inference (:mod:`sciimg.inference`) imports torch and the networks only.
"""

from sciimg.predictors.base import Predictor, init_arguments, predictor_options

__all__ = ["Predictor", "init_arguments", "predictor_options"]
