"""An independent, per-gate NumPy LSTM (and GRU, and plain RNN): the reference every TensorFlow form is checked against.

NumPy only. Nothing here imports TensorFlow or Keras, concatenates ``x`` with ``h``, or builds a matrix
``4 * num_units`` wide: every gate has its own input matrix ``V[g]``, recurrent matrix ``W[g]`` and bias
``b[g]``, exactly as the equations are written.
"""

from lstm_equiv.reference.backward import LSTMGrads, lstm_backward
from lstm_equiv.reference.gru import GRU_GATES, GRUGrads, GRUParams, gru_backward, gru_forward
from lstm_equiv.reference.lstm import ACTIVATIONS, GATES, PEEPHOLE_GATES, LSTMParams, dense, lstm_forward
from lstm_equiv.reference.network import MERGE_MODES, NetworkGrads, network_backward, network_forward
from lstm_equiv.reference.rnn import RNN_GATES, RNNGrads, RNNParams, rnn_backward, rnn_forward

__all__ = [
    "ACTIVATIONS",
    "GATES",
    "GRU_GATES",
    "GRUGrads",
    "GRUParams",
    "MERGE_MODES",
    "PEEPHOLE_GATES",
    "LSTMGrads",
    "LSTMParams",
    "NetworkGrads",
    "dense",
    "gru_backward",
    "gru_forward",
    "lstm_backward",
    "lstm_forward",
    "network_backward",
    "network_forward",
    "RNN_GATES",
    "RNNGrads",
    "RNNParams",
    "rnn_backward",
    "rnn_forward",
]
