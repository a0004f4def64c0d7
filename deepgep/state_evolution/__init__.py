"""state_evolution"""
