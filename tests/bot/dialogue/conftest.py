from tests.dialogue_world import engine, gateway, nlu_model, uncertain_nlu_model, unsure_gateway

__all__ = ["engine", "gateway", "nlu_model", "uncertain_nlu_model", "unsure_gateway"]
