// SPDX-License-Identifier: MIT
// Forms made from a list of fields, whose values become a request body, and whose
// errors come back from the daemon: an error body's `field` (a JSON pointer such as
// "/params/K") puts its message next to the control of that field.
//
// The daemon is the validator: numbers are sent as typed (text that is not a number
// goes as a string, so the daemon names the field), an empty field is left out (the
// daemon's default applies, shown as the placeholder), and the browser's own checks
// are off (novalidate), so every message a user sees is the API's own.
//
// A field: {name, label, kind, at, pointer, options, value, placeholder, help, group}
//   name     unique in the form; its place in the body is `at` (an array of keys,
//            default name split at dots), its pointer '/' + at.join('/'), or `pointer`
//            when the caller's prepare() moves it (the place its errors name)
//   placeholder  the default, in words (shown as "default: …" in an empty field)
//   kind     'int', 'number', 'text', 'select', 'bool' (default / true / false),
//            'numbers' / 'ints' (a list: commas or spaces), 'numOrList' (one number,
//            or a list of several), 'file'
//   options  for 'select': values, or [value, label] pairs
//   group    fields with the same group share a fieldset; a group named in
//            opts.collapsed starts folded (a <details>)

import {el, errorText} from './util.js';

let formCount = 0;

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function asNumber(text) {
  return NUMBER.test(text) ? Number(text) : text;
}

function listOf(text) {
  return text.split(/[\s,]+/).filter((t) => t !== '').map(asNumber);
}

/* The value of a control for the body, or undefined to leave the field out. */
function valueOf(f, input) {
  if (f.kind === 'file') {
    return input.files && input.files[0] ? input.files[0] : undefined;
  }
  const text = input.value.trim();
  if (text === '') {
    return undefined;
  }
  switch (f.kind) {
    case 'int':
    case 'number':
      return asNumber(text);
    case 'bool':
      return text === 'true';
    case 'numbers':
    case 'ints':
      return listOf(text);
    case 'numOrList': {
      const l = listOf(text);
      return l.length === 1 ? l[0] : l;
    }
    default:
      return text;
  }
}

function control(f, id, describedBy) {
  const common = {id, name: f.name, 'aria-describedby': describedBy};
  if (f.kind === 'select' || f.kind === 'bool') {
    const options = f.kind === 'bool' ? [['true', 'true'], ['false', 'false']] : f.options;
    return el('select', common,
        f.required ? null : el('option', {value: ''}, f.placeholder || '(default)'),
        options.map((o) => {
          const [v, label] = Array.isArray(o) ? o : [o, o];
          return el('option', {value: v}, label);
        }));
  }
  if (f.kind === 'file') {
    return el('input', {...common, type: 'file', accept: f.accept || null});
  }
  const numeric = f.kind === 'int' || f.kind === 'number';
  return el('input', {
    ...common, type: 'text', autocomplete: 'off', spellcheck: 'false',
    inputmode: numeric ? (f.kind === 'int' ? 'numeric' : 'decimal') : null,
    placeholder: f.placeholder ? 'default: ' + f.placeholder : null,
  });
}

/**
 * A form of fields; opts: {submitLabel, onSubmit(values), mapField(field) -> a
 * field name for an error field that is no pointer (a query argument, "line 3"),
 * collapsed: [group names folded at first]}.  onSubmit may throw: an ApiError is
 * shown at its field.  Returns {el, values(), set(name, v), input(name),
 * showError(e), clearErrors(), busy(on)}.
 */
export function buildForm(fields, opts) {
  const formId = 'f' + ++formCount;
  const controls = new Map();
  const groups = new Map();
  const form = el('form', {class: 'form', novalidate: true, id: opts.id || null});
  for (const f of fields) {
    const at = f.at || f.name.split('.');
    const id = `${formId}-${f.name.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
    const help = f.help ? el('small', {class: 'help', id: id + '-help'}, f.help) : null;
    const err = el('div', {class: 'field-error', id: id + '-error', 'aria-live': 'polite'});
    const input = control(f, id, [help ? id + '-help' : null, id + '-error']
        .filter(Boolean).join(' '));
    if (f.value !== undefined && f.value !== null) {
      input.value = Array.isArray(f.value) ? f.value.join(', ') : String(f.value);
    }
    const wrap = el('div', {class: 'field', 'data-field': f.name},
        el('label', {for: id}, f.label || f.name, f.required ? el('span', {class: 'req'}, ' *') : null),
        input, help, err);
    let parent = form;
    if (f.group) {
      if (!groups.has(f.group)) {
        const folded = (opts.collapsed || []).includes(f.group);
        const box = folded
            ? el('details', {class: 'group'}, el('summary', {}, f.group))
            : el('fieldset', {class: 'group'}, el('legend', {}, f.group));
        groups.set(f.group, box);
        form.append(box);
      }
      parent = groups.get(f.group);
    }
    parent.append(wrap);
    controls.set(f.name,
        {f, at, pointer: f.pointer || '/' + at.join('/'), input, err, wrap, box: parent});
  }
  const formErr = el('div', {class: 'form-error', role: 'alert'});
  const submit = el('button', {type: 'submit', class: 'primary'}, opts.submitLabel || 'Submit');
  form.append(el('div', {class: 'actions'}, submit), formErr);

  const api = {
    el: form,
    values() {
      const out = {};
      for (const c of controls.values()) {
        const v = valueOf(c.f, c.input);
        if (v === undefined) {
          continue;
        }
        let o = out;
        c.at.slice(0, -1).forEach((k) => {
          o = o[k] = o[k] || {};
        });
        o[c.at[c.at.length - 1]] = v;
      }
      return out;
    },
    set(name, v) {
      const c = controls.get(name);
      if (c && v !== undefined && v !== null) {
        c.input.value = Array.isArray(v) ? v.join(', ') : String(v);
      }
    },
    input(name) {
      return controls.get(name) ? controls.get(name).input : null;
    },
    clearErrors() {
      formErr.textContent = '';
      for (const c of controls.values()) {
        c.err.textContent = '';
        c.input.removeAttribute('aria-invalid');
        c.wrap.classList.remove('invalid');
      }
    },
    showError(e) {
      const ptr = e && typeof e.field === 'string' ? e.field : null;
      let best = null;
      for (const c of controls.values()) {
        if (ptr && (ptr === c.pointer || ptr.startsWith(c.pointer + '/')) &&
            (!best || c.pointer.length > best.pointer.length)) {
          best = c;
        }
      }
      if (!best && ptr && opts.mapField) {
        best = controls.get(opts.mapField(ptr)) || null;
      }
      if (!best) {
        formErr.textContent = errorText(e);
        return;
      }
      best.err.textContent = e.message;
      best.input.setAttribute('aria-invalid', 'true');
      best.wrap.classList.add('invalid');
      if (best.box.tagName === 'DETAILS') {
        best.box.open = true;
      }
      best.input.focus();
    },
    busy(on) {
      submit.disabled = on;
      form.setAttribute('aria-busy', on ? 'true' : 'false');
    },
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    api.clearErrors();
    api.busy(true);
    try {
      await opts.onSubmit(api.values());
    } catch (e) {
      api.showError(e);
    } finally {
      api.busy(false);
    }
  });
  return api;
}
