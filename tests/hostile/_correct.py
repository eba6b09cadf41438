# A correct student: graded after every hostile one, it must keep the maximum.
import numpy as np
import tensorflow as tf
from facelab.model import img_to_encoding

THRESH = 0.7

# GRADED FUNCTION: pixel_distance
def pixel_distance(image_a, image_b):
    return float(np.linalg.norm(np.asarray(image_a, dtype=np.float64) - np.asarray(image_b, dtype=np.float64)))

# GRADED FUNCTION: triplet_loss
def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    pos = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    neg = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))

# GRADED FUNCTION: verify
def verify(image_path, identity, database, model):
    encoding = img_to_encoding(image_path, model)
    dist = float(np.linalg.norm(encoding - database[identity]))
    if dist < THRESH:
        print("It's " + str(identity) + ", welcome in!")
        door_open = True
    else:
        print("It's not " + str(identity) + ", please go away")
        door_open = False
    return dist, door_open

# GRADED FUNCTION: who_is_it
def who_is_it(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    min_dist = 100
    identity = None
    for name, db_enc in database.items():
        dist = float(np.linalg.norm(encoding - db_enc))
        if dist < min_dist:
            min_dist, identity = dist, name
    if min_dist > THRESH:
        print("Not in the database.")
    else:
        print("it's " + str(identity) + ", the distance is " + str(min_dist))
    return min_dist, identity
