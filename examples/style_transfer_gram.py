"""A small style-transfer-like model: conv features -> Gram matrices -> style loss,
trained for a few steps with model.fit, then saved and reloaded.

    python examples/style_transfer_gram.py          # any KERAS_BACKEND

The model learns conv filters whose features' Gram matrices match those of a target
"style" image: the loss is the mean squared difference of Gram matrices, as in Gatys et
al.'s style loss. swiftgram.keras.Gram computes them (and their gradients).
"""
import os
import tempfile

import numpy as np
import keras

import swiftgram.keras as sgk

keras.utils.set_random_seed(0)
size, channels = 32, 16
rng = np.random.default_rng(0)
images = rng.random((64, size, size, 3)).astype("float32")

# Target Gram matrices: features of a fixed random "style" network.
style_net = keras.Sequential([keras.Input((size, size, 3)),
                              keras.layers.Conv2D(channels, 3, padding="same", activation="relu"),
                              sgk.Gram()])
targets = style_net.predict(images, verbose=0)

inputs = keras.Input((size, size, 3))
features = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(inputs)
features = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(features)
gram = sgk.Gram()(features)
model = keras.Model(inputs, gram)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")

history = model.fit(images, targets, epochs=5, batch_size=16, verbose=0)
losses = history.history["loss"]
print("style loss per epoch:", " ".join(f"{l:.3e}" for l in losses))

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "style.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    more = reloaded.fit(images, targets, epochs=2, batch_size=16, verbose=0).history["loss"]
print("after save/load, training goes on:", " ".join(f"{l:.3e}" for l in more))
print("loss decreased:", losses[-1] < losses[0])
