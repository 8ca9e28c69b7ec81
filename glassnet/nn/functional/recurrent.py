"""(issue 4: filled in by the recurrent work)"""
__all__ = []
