"""The essay's mathematics, free of Lightning and Hydra: activations, cost, forward pass, backprop."""
