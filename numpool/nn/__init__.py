"""A small CNN stack on NumPy arrays: ``Sequential``, softmax cross-entropy, SGD and Adam.

The layers come from :mod:`numpool.layers` (or anything following its protocol); this
package adds the model that chains them, the loss, the optimisers and the training loop
(``compile``, ``fit``, ``evaluate``, ``predict``, ``save_weights``/``load_weights``).
"""

from .lenet import lenet5
from .losses import softmax_cross_entropy
from .model import History, Sequential
from .optimizers import SGD, Adam, Optimizer

__all__ = ["Sequential", "History", "softmax_cross_entropy", "SGD", "Adam", "Optimizer", "lenet5"]
