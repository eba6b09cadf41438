# Plain constants, no attack: what the hostile submissions' own answers are worth.
# A hostile submission with "# bound: 0" may earn, per exercise, at most what this earns.
import numpy as np

# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    return 0.0

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    return 0.0

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    return 0.0, True

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    return 0.0, None
