"""Operate: the registered champion at work, in three parts that do not import each
other's internals: batch scoring (`predict`, pandas or Spark), REST serving (`serve`), and
monitoring and continuous training (`monitor`, `ct`, `simulate`; ct scores a batch through
batch's `predict`, the one way a part uses another)."""
