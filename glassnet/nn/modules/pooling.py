"""(issue 3: filled in by the convolution work)"""
__all__ = []
