"""Preprocessing fixtures from scikit-learn (Debian's python3-sklearn 1.2): StandardScaler, MinMaxScaler,
SimpleImputer and LabelEncoder, each fitted on a training table and applied to a held-out one, as a k-fold
pipeline does.

Each scaler case runs in float64 and in float32 (scikit-learn keeps float32 tables float32: MinMaxScaler's
attributes and arithmetic, StandardScaler's in-place transform), recorded as *_64 and *_32. Tables: plain
columns at different scales, a constant column, a column at 1e6 + noise, NaN cells (ignored by fit, kept by
transform), and held-out values outside the fitted range.
"""
import numpy as np
import torch
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, StandardScaler

from _common import randn, seeded


def table(gen, rows, nan_cells=()):
    """Columns: N(0,1), N(5,3), constant 3.7, 1e6 + N(0, 0.5), N(-2, 0.01); float32-representable."""
    x = torch.cat([randn((rows, 1), gen), randn((rows, 1), gen, 3.0, 5.0), torch.full((rows, 1), 3.7),
                   randn((rows, 1), gen, 0.5, 1e6), randn((rows, 1), gen, 0.01, -2.0)], 1)
    x = x.float().double()
    for r, c in nan_cells:
        x[r, c] = float("nan")
    return x


def scaler_case(make, attributes, train, test):
    tensors = {"train": train, "test": test}
    for dtype, suffix in ((np.float64, "64"), (np.float32, "32")):
        s = make()
        a, b = train.numpy().astype(dtype), test.numpy().astype(dtype)
        z_train = s.fit_transform(a)
        z_test = s.transform(b)
        inverse = s.inverse_transform(z_test.copy())
        for name in attributes:
            tensors[f"{name}_{suffix}"] = torch.from_numpy(np.asarray(getattr(s, name), dtype=np.float64))
        tensors[f"z_train_{suffix}"] = torch.from_numpy(z_train.astype(np.float64))
        tensors[f"z_test_{suffix}"] = torch.from_numpy(z_test.astype(np.float64))
        tensors[f"inverse_{suffix}"] = torch.from_numpy(inverse.astype(np.float64))
    return tensors


def cases():
    gen = seeded(22)
    train, test = table(gen, 40), table(gen, 9)
    test[0, 0], test[1, 1] = 9.0, -40.0  # outside the fitted range
    nan_train = table(gen, 30, [(0, 0), (3, 0), (5, 1), (7, 4), (8, 4)])
    nan_test = table(gen, 6, [(1, 2), (4, 3)])
    standard = ["mean_", "var_", "scale_"]
    minmax = ["data_min_", "data_max_", "scale_", "min_"]
    yield "standard", {"call": "StandardScaler().fit_transform(train); transform(test); inverse_transform",
                       "params": {}, "tensors": scaler_case(StandardScaler, standard, train, test)}
    yield "standard_nan", {"call": "StandardScaler() on tables with NaN cells",
                           "params": {}, "tensors": scaler_case(StandardScaler, standard, nan_train, nan_test)}
    yield "minmax", {"call": "MinMaxScaler().fit_transform(train); transform(test); inverse_transform",
                     "params": {}, "tensors": scaler_case(MinMaxScaler, minmax, train, test)}
    yield "minmax_nan", {"call": "MinMaxScaler() on tables with NaN cells",
                         "params": {}, "tensors": scaler_case(MinMaxScaler, minmax, nan_train, nan_test)}
    labels = ["setosa", "virginica", "Iris-x", "versicolor", "setosa", "b", "a", "virginica", "B"]
    le = LabelEncoder().fit(labels)
    yield "label_encoder", {"call": "LabelEncoder().fit(labels); transform(labels)",
                            "params": {"labels": labels, "classes": [str(c) for c in le.classes_]},
                            "tensors": {"codes": torch.from_numpy(le.transform(labels).astype(np.int64))}}
    # SimpleImputer (appended: the draws above are unchanged). Values rounded to halves so most_frequent
    # meets ties (scikit-learn takes the smallest) and median meets even counts.
    imp_train = torch.round(table(gen, 12, [(0, 0), (2, 0), (5, 1), (7, 3), (9, 4), (10, 4)]) * 2) / 2
    imp_train[1, 0] = imp_train[3, 0] = imp_train[4, 0]  # a three-way value in column 0
    imp_train[6, 1] = imp_train[8, 1] = 7.5              # a tie in column 1 with whatever repeats
    imp_test = torch.round(table(gen, 5, [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]) * 2) / 2
    for strategy in ("mean", "median", "most_frequent", "constant"):
        params = {"strategy": strategy}
        if strategy == "constant":
            params["fill_value"] = -1.5
        tensors = {"train": imp_train, "test": imp_test}
        for dtype, suffix in ((np.float64, "64"), (np.float32, "32")):
            imp = SimpleImputer(**params)
            z_train = imp.fit_transform(imp_train.numpy().astype(dtype))
            z_test = imp.transform(imp_test.numpy().astype(dtype))
            tensors[f"statistics_{suffix}"] = torch.from_numpy(np.asarray(imp.statistics_, dtype=np.float64))
            tensors[f"z_train_{suffix}"] = torch.from_numpy(z_train.astype(np.float64))
            tensors[f"z_test_{suffix}"] = torch.from_numpy(z_test.astype(np.float64))
        yield f"imputer_{strategy}", {"call": f"SimpleImputer({params}).fit_transform(train); transform(test)",
                                      "params": params, "tensors": tensors}
