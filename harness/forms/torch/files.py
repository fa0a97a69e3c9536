"""PyTorch files: a layer's weights written as a ``state_dict`` of nn.LSTM or nn.GRU, and the written file loaded
back into the module and run (lstm-equiv convert --to torch)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms.torch import torch
from lstm_equiv.reference import GRUParams


def _module(t, source):
    """The source's layer as a torch module (nn.GRU, or nn.LSTM with proj_size for a projection)."""
    p, dtype = source.params, getattr(t, source.dtype)
    if source.cell == "gru":
        return t.nn.GRU(p.input_depth, p.num_units, batch_first=True, dtype=dtype)
    proj = 0 if p.projection is None else p.projection.shape[1]
    return t.nn.LSTM(p.input_depth, p.num_units, batch_first=True, proj_size=proj, dtype=dtype)


def write(source, out) -> list:
    """Write ``source`` (harness.convert.Source) into ``out``; lines that tell how to load it."""
    t, p = torch(), source.params
    if source.cell == "gru":
        tensors, name, more = layouts.TORCH_GRU.compose(p), "gru = torch.nn.GRU", ""
    else:  # the whole bias in bias_ih_l0, bias_hh_l0 zeros
        tensors, name = layouts.TORCH.compose(p, source.forget_bias), "lstm = torch.nn.LSTM"
        more = f", proj_size={p.projection.shape[1]}" if p.projection is not None else ""
    t.save({k: t.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}, out)
    return [
        f"{name}(input_size={p.input_depth}, hidden_size={p.num_units}, batch_first=True{more}"
        f"{', dtype=torch.float64' if source.dtype == 'float64' else ''})",
        f"{name.split()[0]}.load_state_dict(torch.load({str(out)!r}))  # keys {', '.join(tensors)}",
    ]


def load_and_run(out, source, x) -> tuple:
    """The written file loaded back into its module, on ``x``: (outputs, h, c; c None for a GRU)."""
    t = torch()
    module = _module(t, source)
    module.load_state_dict(t.load(out))
    with t.no_grad():
        outputs, state = module(t.from_numpy(np.ascontiguousarray(x)))
    if source.cell == "gru":
        return outputs.numpy(), state[0].numpy(), None
    return outputs.numpy(), state[0][0].numpy(), state[1][0].numpy()


# ---------------------------------------------------------------------------------------------- reading (check)

_KEY = re.compile(r"^(?P<module>(?:.*\.)?)weight_ih_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
_CONTAINERS = ("state_dict", "model_state_dict", "model")  # where training scripts nest a state_dict


def _state_dict(path):
    """The file's tensors by name, loaded with ``weights_only=True`` (PyTorch's unpickler that builds tensors
    and containers only: no class of the file is imported, no code of it runs)."""
    from lstm_equiv.harness import safeio
    from lstm_equiv.harness.check import CheckError
    from lstm_equiv.harness.forms.torch import pickled

    t = torch()
    try:
        safeio.regular_file(path, "model file")
        loaded = t.load(path, map_location="cpu", weights_only=True)
    except safeio.InputError as err:
        raise CheckError(str(err)) from None
    except Exception as err:  # noqa: BLE001  torch's unpickler says why (a class it will not build, a bad zip)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        try:  # a whole pickled module: its parameters read as data (harness/forms/torch/pickled.py)
            params, modules = pickled.read(path, safeio.LIMITS["weights file"])
        except pickled.PickledError as why:
            raise CheckError(
                f"{path}: torch.load(weights_only=True) refuses it ({first}), and it is not a whole module that "
                f"can be read as data ({why}); lstm-equiv never unpickles code from a file: save "
                "model.state_dict()"
            ) from None
        classes = sorted({cls for cls, _ in modules.values() if cls.startswith("torch.nn.modules.rnn.")})
        where = f" (a whole pickled {modules[''][0]}, read as data, no class imported; {', '.join(classes)})"
        return params, where
    where = ""
    if isinstance(loaded, dict) and not any(isinstance(v, t.Tensor) for v in loaded.values()):
        for key in _CONTAINERS:
            if isinstance(loaded.get(key), dict):
                loaded, where = loaded[key], f" (under key {key!r})"
                break
    if not isinstance(loaded, dict) or not all(isinstance(v, t.Tensor) for v in loaded.values()):
        raise CheckError(f"{path}: not a state_dict (a mapping of names to tensors){where}")
    return {str(k): v.detach().numpy() for k, v in loaded.items()}, where


def read_layers(path) -> tuple:
    """(the file in words, every nn.LSTM and nn.GRU layer of its state_dict, as harness.check.Layer): one Layer
    per layer index l (``weight_ih_l{l}``, ``_reverse`` for the backward direction); the cell from the
    gate count (rows of weight_ih / hidden size: 4 an LSTM, 3 a GRU)."""
    from lstm_equiv.harness.check import CheckError

    tensors, where = _state_dict(path)
    found = sorted(
        {(m.group("module"), int(m.group("layer"))) for k in tensors if (m := _KEY.match(k))},
        key=lambda ml: (list(tensors).index(f"{ml[0]}weight_ih_l{ml[1]}"), ml[1]),
    )
    if not found:
        raise CheckError(f"{path}: its state_dict{where} holds no nn.LSTM or nn.GRU weights (weight_ih_l0)")
    layers = [_torch_layer(path, tensors, module, k) for module, k in found]
    return f"{path} (PyTorch state_dict{where})", layers


def _torch_layer(path, tensors: dict, module: str, k: int):
    from lstm_equiv.harness.check import CheckError, Layer

    directions = ["", "_reverse"] if f"{module}weight_ih_l{k}_reverse" in tensors else [""]
    cells, biases = [], []
    name = f"{module.rstrip('.') or 'module'}.l{k}"
    for d in directions:
        get = lambda part, d=d: tensors.get(f"{module}{part}_l{k}{d}")
        w_ih, w_hh, w_hr = get("weight_ih"), get("weight_hh"), get("weight_hr")
        if w_hh is None or w_ih.ndim != 2 or w_hh.ndim != 2 or (w_hr is not None and w_hr.ndim != 2):
            raise CheckError(f"{path}: {name}: weight_ih, weight_hh (and weight_hr) must be matrices")
        units = w_hr.shape[1] if w_hr is not None else w_hh.shape[1]
        if not units or not w_ih.shape[1]:
            raise CheckError(f"{path}: {name}: weight_ih {list(w_ih.shape)}, weight_hh {list(w_hh.shape)}: empty")
        gates, rest = divmod(w_ih.shape[0], units)
        if rest or gates not in (3, 4) or w_hh.shape[0] != w_ih.shape[0]:
            raise CheckError(
                f"{path}: {name}: weight_ih {list(w_ih.shape)} and weight_hh {list(w_hh.shape)} are neither an "
                "LSTM's (4 gate blocks) nor a GRU's (3)"
            )
        zeros = np.zeros(w_ih.shape[0], w_ih.dtype)
        b_ih = get("bias_ih") if get("bias_ih") is not None else zeros
        b_hh = get("bias_hh") if get("bias_hh") is not None else zeros
        named = {"weight_ih_l0": w_ih, "weight_hh_l0": w_hh, "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
        if gates == 3:
            cells.append(layouts.TORCH_GRU.split(named, w_ih.shape[1], True))
            biases.append({})
            continue
        if w_hr is not None:
            named["weight_hr_l0"] = w_hr
        cells.append(layouts.TORCH.split(named, w_ih.shape[1], forget_bias=0.0))
        biases.append(
            {
                name: replace(layouts.TORCH, biases=(name,)).split(named, w_ih.shape[1], 0.0).b
                for name in ("bias_ih_l0", "bias_hh_l0")
            }
        )
    gru = isinstance(cells[0], GRUParams)
    cls, rows = ("GRU", 3 * cells[0].num_units) if gru else ("LSTM", 4 * cells[0].num_units)
    found = (
        f"PyTorch nn.{cls} layer {k}{' (bidirectional)' if len(cells) == 2 else ''}: weight_ih [{rows}, "
        f"{cells[0].input_depth}], row blocks {'r z n' if gru else 'i f g o'}, bias_ih + bias_hh added"
        + ("; reset after the recurrent product" if gru else "; forget bias stored in the f blocks (none at run time)")
    )
    params = tuple(cells)
    dtype = str(tensors[f"{module}weight_ih_l{k}"].dtype)

    def run(x, lengths=None):
        t = torch()
        proj = 0 if gru or params[0].projection is None else params[0].projection.shape[1]
        kwargs = {} if gru else {"proj_size": proj}
        mod = getattr(t.nn, cls)(
            params[0].input_depth, params[0].num_units, batch_first=True, bidirectional=len(params) == 2, **kwargs
        ).to(getattr(t, dtype))
        state = {}
        for d, p in zip(("", "_reverse"), params):
            composed = layouts.TORCH_GRU.compose(p) if gru else layouts.TORCH.compose(p, 0.0)
            state.update(
                {key.replace("_l0", f"_l0{d}"): t.from_numpy(np.asarray(v, dtype)) for key, v in composed.items()}
            )
        mod.load_state_dict(state)
        xt = t.from_numpy(np.asarray(x, dtype))
        with t.no_grad():
            if lengths is None:
                outputs, final = mod(xt)
            else:  # the lengths as PyTorch takes them: a packed sequence
                packed = t.nn.utils.rnn.pack_padded_sequence(
                    xt, t.as_tensor(np.asarray(lengths)), batch_first=True, enforce_sorted=False
                )
                out, final = mod(packed)
                outputs, _ = t.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        h, c = (final, None) if gru else final
        return outputs.numpy(), h.numpy(), None if c is None else c.numpy()

    return Layer(
        name,
        "gru" if gru else "lstm",
        params,
        {"reset_after": True} if gru else {"forget_bias": 0.0},
        found,
        merge_mode="concat" if len(params) == 2 else None,
        takes_lengths="lengths, when called with a pack_padded_sequence (a state_dict does not say how it is called)",
        run=run,
        runner=f"torch.nn.{cls} loaded with the file's tensors ({dtype})",
        stored_biases=tuple(biases),
    )


# ---------------------------------------------------------------------------------------------- whole models


def _stack_modules(t, stack):
    """A ``torch.nn.ModuleDict`` of one nn.LSTM / nn.GRU per layer of ``stack``, named as the Keras layers."""
    modules = {}
    for lay in stack.layers:
        cls = "GRU" if lay.cell == "gru" else "LSTM"
        modules[lay.name] = getattr(t.nn, cls)(
            lay.input_depth, lay.units, batch_first=True, bidirectional=lay.directions == 2
        )
    return t.nn.ModuleDict(modules)


def _stack_state(stack) -> dict:
    out = {}
    for lay in stack.layers:
        for d, p in zip(("", "_reverse"), lay.cells):
            p = p.astype("float32")
            composed = (
                layouts.TORCH_GRU.compose(p)
                if lay.cell == "gru"
                else layouts.TORCH.compose(p, lay.semantics["forget_bias"])
            )
            out.update({f"{lay.name}.{k.replace('_l0', f'_l0{d}')}": v for k, v in composed.items()})
    return out


def write_stack(stack, out) -> list:
    """Write the chain of ``stack`` as the state_dict of a ModuleDict into ``out``; the lines that run it."""
    t = torch()
    t.save({k: t.from_numpy(np.ascontiguousarray(v)) for k, v in _stack_state(stack).items()}, out)
    lines = [
        "stack = torch.nn.ModuleDict({"
        + ", ".join(
            f"{lay.name!r}: torch.nn.{lay.cell.upper()}({lay.input_depth}, {lay.units}, batch_first=True"
            + (", bidirectional=True" if lay.directions == 2 else "")
            + ")"
            for lay in stack.layers
        )
        + "})",
        f"stack.load_state_dict(torch.load({str(out)!r}))",
        "then, layer by layer, x [batch, timesteps, features] (the output of the layers before "
        f"{stack.layers[0].name}):",
    ]
    for lay in stack.layers:
        u = lay.units
        steps = []
        carried = f", state_{lay.name}" if lay.stateful else ""
        if lay.go_backwards:
            steps.append(
                "x = x.flip(1)  # go_backwards: nn has none; the flipped rows run forwards, and their outputs come "
                "in the order Keras passes them on"
            )
        if lay.masked_by:
            steps.append(
                f"out, state = stack[{lay.name!r}](pack_padded_sequence(x, lengths, batch_first=True, "
                f"enforce_sorted=False){carried}); out = pad_packed_sequence(out, batch_first=True, total_length=T)[0]"
            )
        else:
            steps.append(f"out, state = stack[{lay.name!r}](x{carried})")
        if lay.stateful:
            steps.append(f"state_{lay.name} = state  # stateful: carried into the next call (None at the first)")
        h = "state" if lay.cell == "gru" else "state[0]"
        if not lay.sequences:
            last = f"{h}[0]" if lay.directions == 1 else _merge_words(lay.merge_mode, f"{h}[0]", f"{h}[1]")
            steps.append(f"x = {last}  # its last output (return_sequences=False)")
        else:
            if lay.directions == 2 and lay.merge_mode != "concat":
                steps.append(f"out = {_merge_words(lay.merge_mode, f'out[..., :{u}]', f'out[..., {u}:]')}")
            steps.append("x = out")
        lines.append(f"  {lay.name}: " + "; ".join(steps))
    return lines


def _merge_words(mode: str, fw: str, bw: str) -> str:
    return {
        "concat": f"torch.cat([{fw}, {bw}], -1)",
        "sum": f"{fw} + {bw}",
        "mul": f"{fw} * {bw}",
        "ave": f"({fw} + {bw}) / 2",
    }[mode]


def run_stack(out, stack, x, lengths, states=None) -> np.ndarray:
    """The written state_dict loaded into its ModuleDict and run as the written lines say, on ``x`` (each
    stateful layer from its initial ``states``, by name)."""
    t = torch()
    modules = _stack_modules(t, stack)
    modules.load_state_dict(t.load(out, weights_only=True))
    xt = t.from_numpy(np.ascontiguousarray(np.asarray(x, np.float32)))
    steps = x.shape[1]
    with t.no_grad():
        for lay in stack.layers:
            u = lay.units
            xt = xt.flip(1) if lay.go_backwards else xt
            module = modules[lay.name]
            hx = ()
            if lay.stateful:
                h0, c0 = (t.from_numpy(np.asarray(a, np.float32)) if a is not None else None for a in states[lay.name])
                hx = (h0,) if lay.cell == "gru" else ((h0, c0),)
            if lay.masked_by and lengths is not None:
                packed = t.nn.utils.rnn.pack_padded_sequence(
                    xt, t.as_tensor(np.asarray(lengths)), batch_first=True, enforce_sorted=False
                )
                got, state = module(packed, *hx)
                got = t.nn.utils.rnn.pad_packed_sequence(got, batch_first=True, total_length=steps)[0]
            else:
                got, state = module(xt, *hx)
            h = state if lay.cell == "gru" else state[0]
            merge = lambda fw, bw, mode=lay.merge_mode: {
                "concat": lambda: t.cat([fw, bw], -1),
                "sum": lambda: fw + bw,
                "mul": lambda: fw * bw,
                "ave": lambda: (fw + bw) / 2,
            }[mode]()
            if not lay.sequences:
                xt = h[0] if lay.directions == 1 else merge(h[0], h[1])
            else:
                if lay.directions == 2 and lay.merge_mode != "concat":
                    got = merge(got[..., :u], got[..., u:])
                xt = got
    return xt.numpy()
