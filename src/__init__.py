"""backprop-lightning: the textbook multilayer perceptron with hand-written backpropagation."""
