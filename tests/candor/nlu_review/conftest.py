from tests.candor.nlu_review.world import gated_dir, steady_dir
from tests.dialogue_world import engine, gateway, nlu_model

__all__ = ["engine", "gated_dir", "gateway", "nlu_model", "steady_dir"]
