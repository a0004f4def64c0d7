"""Data generators: the deep random-network teacher of [C25] and GLM teachers."""

from .teachers import DeepTeacher, GLMTeacher, make_deep_teacher

__all__ = ["DeepTeacher", "GLMTeacher", "make_deep_teacher"]
