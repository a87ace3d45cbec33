"""The history-aware GUI agent: model backends, history that helps, episodes you can look at, and
evaluation on the phone task suite. It reaches phones only through `control.phone.PhoneDevice`."""
