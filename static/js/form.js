/*
 * Taizhang form enhancements for pages rendered by templates/_macros.html.
 * Vanilla ES2017, no libraries. The form works without this script; it adds:
 *  - repeat rows: "添加一行" clones the <template> row (index placeholder __index__),
 *    "删除" removes a row; row numbers shown are renumbered, input names are not
 *    (the server accepts gaps);
 *  - show_if applied live: a hidden field's inputs are disabled so they are not sent
 *    (the server applies the same rule anyway);
 *  - double-submit protection: the button is disabled and says "正在提交…". The hidden
 *    submission_id is never touched, so a retry is recognised by the server.
 */
(function () {
  'use strict';

  var RETRY_AFTER_MS = 20000; // a weak network may lose the response: allow a retry

  function each(list, fn) {
    Array.prototype.forEach.call(list, fn);
  }

  // The scope (a repeat row, else the form) an element belongs to.
  function scopeOf(el) {
    return el.parentElement ? el.parentElement.closest('[data-scope], form') : null;
  }

  function findField(scope, name) {
    var found = null;
    each(scope.querySelectorAll('[data-field="' + name + '"]'), function (el) {
      if (!found && scopeOf(el) === scope) {
        found = el;
      }
    });
    return found;
  }

  // The current value of a field wrapper: null when hidden, an array for checkboxes,
  // a boolean for a single checkbox, otherwise the trimmed text.
  function valueOf(wrapper) {
    if (wrapper.closest('[hidden]')) {
      return null;
    }
    var type = wrapper.getAttribute('data-type');
    if (type === 'boolean') {
      var box = wrapper.querySelector('input[type=checkbox]');
      return !!(box && box.checked);
    }
    var choices = wrapper.querySelectorAll('input[type=checkbox], input[type=radio]');
    if (choices.length) {
      var picked = [];
      each(choices, function (input) {
        if (input.checked) {
          picked.push(input.value);
        }
      });
      return type === 'multiselect' ? picked : (picked[0] || '');
    }
    var input = wrapper.querySelector('input, select, textarea');
    return input ? input.value.trim() : '';
  }

  // What the server makes of typed text (forms/fields.py, the parse of each type), so that
  // the page shows exactly the fields the server will ask for. null: not a valid value.
  var GROUPED = /^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$/;
  var INTEGER = /^[+-]?\d+$/;
  var DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
  var LOOSE_MONTH = /^(\d{4})\s*[-\/.年]\s*(\d{1,2})\s*月?$/;
  var LOOSE_DATE = /^(\d{4})\s*[-\/.年]\s*(\d{1,2})\s*[-\/.月]\s*(\d{1,2})\s*日?$/;

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function parseNumber(text, pattern) {
    var clean = text.normalize('NFKC').trim().replace(/ /g, '').replace(/。/g, '.');
    if (GROUPED.test(clean)) {
      clean = clean.replace(/,/g, '');
    }
    return pattern.test(clean) ? Number(clean) : null;
  }

  function parseMonth(text) {
    var m = LOOSE_MONTH.exec(text.normalize('NFKC').trim());
    if (!m || +m[2] < 1 || +m[2] > 12) {
      return null;
    }
    return m[1] + '-' + pad(+m[2]);
  }

  function parseDate(text) {
    var m = LOOSE_DATE.exec(text.normalize('NFKC').trim());
    if (!m) {
      return null;
    }
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    if (d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) {
      return null; // 2026-02-30
    }
    return m[1] + '-' + pad(+m[2]) + '-' + pad(+m[3]);
  }

  function parsePhone(text) {
    var digits = text.normalize('NFKC').replace(/[\s\-()]/g, '').replace(/^(\+86|0086)/, '');
    return /^1[3-9]\d{9}$/.test(digits) ? digits : null;
  }

  function parsed(type, text) {
    if (type === 'integer') {
      return parseNumber(text, INTEGER);
    }
    if (type === 'decimal') {
      return parseNumber(text, DECIMAL);
    }
    if (type === 'month') {
      return parseMonth(text);
    }
    if (type === 'date') {
      return parseDate(text);
    }
    if (type === 'phone') {
      return parsePhone(text);
    }
    return text === '' ? null : text;
  }

  function matches(type, value, expected) {
    if (value === null) {
      return false;
    }
    if (Array.isArray(value)) { // multiselect: any selected value is expected
      return value.some(function (v) {
        return expected.some(function (e) { return String(e) === v; });
      });
    }
    if (type === 'boolean') {
      return expected.some(function (e) { return e === value; });
    }
    var data = parsed(type, value);
    if (data === null) {
      return false;
    }
    if (type === 'integer' || type === 'decimal') {
      return expected.some(function (e) { return Number(e) === data; });
    }
    return expected.some(function (e) { return String(e) === data; });
  }

  function setShown(wrapper, shown) {
    wrapper.hidden = !shown;
    each(wrapper.querySelectorAll('input, select, textarea, button'), function (el) {
      el.disabled = !shown;
    });
  }

  // Document order: a target always comes before the fields depending on it, and an outer
  // wrapper before the wrappers inside it, so one pass settles every condition.
  function applyShowIf(form) {
    each(form.querySelectorAll('[data-show-if]'), function (wrapper) {
      var condition;
      try {
        condition = JSON.parse(wrapper.getAttribute('data-show-if'));
      } catch (e) {
        return;
      }
      var scope = scopeOf(wrapper);
      var target = scope && findField(scope, condition.field);
      var expected = Object.prototype.hasOwnProperty.call(condition, 'in') ? condition.in : [condition.equals];
      var shown = !!target && matches(target.getAttribute('data-type'), valueOf(target), expected);
      if (shown && wrapper.closest('[hidden]') && wrapper.closest('[hidden]') !== wrapper) {
        shown = false; // inside a hidden repeat
      }
      setShown(wrapper, shown);
    });
    each(form.querySelectorAll('[data-repeat]'), refreshRepeat);
  }

  function refreshRepeat(box) {
    var rows = box.querySelectorAll('[data-rows] > [data-row]');
    var max = parseInt(box.getAttribute('data-max-items'), 10);
    each(rows, function (row, i) {
      var number = row.querySelector('[data-row-number]');
      if (number) {
        number.textContent = String(i + 1);
      }
      var remove = row.querySelector('[data-remove-row]');
      if (remove) {
        remove.hidden = false;
      }
    });
    var add = box.querySelector('[data-add-row]');
    if (add) {
      add.hidden = false;
      add.disabled = !!box.closest('[hidden]') || (!isNaN(max) && rows.length >= max);
    }
  }

  function nextIndex(box) {
    var next = 0;
    each(box.querySelectorAll('[data-rows] > [data-row]'), function (row) {
      var index = parseInt(row.getAttribute('data-row-index'), 10);
      if (!isNaN(index) && index >= next) {
        next = index + 1;
      }
    });
    return next;
  }

  function initRepeat(form, box) {
    var template = box.querySelector('template[data-row-template]');
    var rowsEl = box.querySelector('[data-rows]');
    var add = box.querySelector('[data-add-row]');
    if (!template || !rowsEl || !add || !('content' in template)) {
      return; // very old browser: keep the server-rendered rows only
    }
    var counter = nextIndex(box);
    add.addEventListener('click', function () {
      var holder = document.createElement('div');
      holder.innerHTML = template.innerHTML.replace(/__index__/g, String(counter));
      counter += 1;
      var row = holder.firstElementChild;
      rowsEl.appendChild(row);
      applyShowIf(form);
      var first = row.querySelector('input:not([type=hidden]):not([disabled]), select, textarea');
      if (first) {
        first.focus();
      }
    });
    rowsEl.addEventListener('click', function (event) {
      var button = event.target.closest('[data-remove-row]');
      if (!button || !rowsEl.contains(button)) {
        return;
      }
      var row = button.closest('[data-row]');
      if (row) {
        row.parentNode.removeChild(row);
        applyShowIf(form);
        add.focus();
      }
    });
    refreshRepeat(box);
  }

  function setBusy(form, busy) {
    var button = form.querySelector('button[type=submit], input[type=submit]');
    if (busy) {
      form.setAttribute('data-busy', '1');
    } else {
      form.removeAttribute('data-busy');
    }
    if (!button) {
      return;
    }
    if (busy) {
      button.setAttribute('data-label', button.textContent);
      button.textContent = button.getAttribute('data-busy-text') || '正在提交…';
      button.disabled = true;
    } else if (button.hasAttribute('data-label')) {
      button.textContent = button.getAttribute('data-label');
      button.disabled = false;
    }
  }

  function initForm(form) {
    each(form.querySelectorAll('[data-repeat]'), function (box) {
      initRepeat(form, box);
    });
    form.addEventListener('input', function () { applyShowIf(form); });
    form.addEventListener('change', function () { applyShowIf(form); });
    form.addEventListener('submit', function (event) {
      if (form.getAttribute('data-busy') === '1') {
        event.preventDefault();
        return;
      }
      setBusy(form, true);
      window.setTimeout(function () { setBusy(form, false); }, RETRY_AFTER_MS);
    });
    // Coming back with the browser's back button restores the page as it was left.
    window.addEventListener('pageshow', function (event) {
      if (event.persisted) {
        setBusy(form, false);
      }
    });
    applyShowIf(form);
  }

  function init() {
    each(document.querySelectorAll('form[data-tz-form]'), initForm);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
