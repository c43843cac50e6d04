"""The motivating program, with swiftgram: the Gram matrix of two feature maps computed
inside a Keras Lambda layer, checked against five nested loops.

    python examples/keras_lambda_gram.py
"""
import numpy as np
import keras

import swiftgram.keras as sgk

a, h, w, m, n = 1, 2, 3, 4, 5
rng = np.random.default_rng(0)
F1 = rng.random((a, h, w, m)).astype("float32")
F2 = rng.random((a, h, w, n)).astype("float32")

# G = einsum('ahwm,ahwn->amn', F1, F2) / (h*w), in a Lambda, on Keras tensors.
x1 = keras.Input((h, w, m))
x2 = keras.Input((h, w, n))
G = keras.layers.Lambda(lambda t: sgk.einsum("ahwm,ahwn->amn", t[0], t[1]) / (h * w))([x1, x2])
model = keras.Model([x1, x2], G)
result = model.predict([F1, F2], verbose=0)

naive = np.zeros((a, m, n))
for k in range(a):
    for i in range(m):
        for j in range(n):
            for s in range(h):
                for t in range(w):
                    naive[k, i, j] += F1[k, s, t, i] * F2[k, s, t, j] / (h * w)

print("output shape", G.shape, "backend", keras.backend.backend())
print("Lambda(swiftgram) == naive loops:", np.allclose(result, naive))
