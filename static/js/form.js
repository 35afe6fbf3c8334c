/*
 * Taizhang form enhancements for pages rendered by templates/_macros.html.
 * Vanilla ES2017, no libraries. The form works without this script; it adds:
 *  - repeat rows: "添加一行" clones the <template> row (index placeholder __index__),
 *    "删除" removes a row; row numbers shown are renumbered, input names are not
 *    (the server accepts gaps);
 *  - show_if applied live: a hidden field's inputs are disabled so they are not sent
 *    (the server applies the same rule anyway);
 *  - the fill kept on the phone (localStorage, one draft per link): every answer, the repeat
 *    rows and the uploaded photos' references are saved as they are typed and restored when
 *    the link is opened again, until the fill has its receipt. The submission id is saved
 *    with them, so every retry of one fill is the same submission for the server;
 *  - photos shrunk on the phone (longest side <= 1600 px, JPEG) and uploaded as soon as they
 *    are picked, with a progress bar; the form then sends the photo's reference, not the file;
 *  - submit in the background (XHR, JSON answer): validation errors are put beside the
 *    fields; when the server cannot be reached (offline, timeout, 502/503/504) the fill stays
 *    on the phone and is sent again by itself when the network comes back or the link is
 *    opened again.
 */
(function () {
  'use strict';

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

  function makeRow(box, index) {
    var template = box.querySelector('template[data-row-template]');
    var holder = document.createElement('div');
    holder.innerHTML = template.innerHTML.replace(/__index__/g, String(index));
    var row = holder.firstElementChild;
    box.querySelector('[data-rows]').appendChild(row);
    return row;
  }

  function initRepeat(form, box, changed) {
    var template = box.querySelector('template[data-row-template]');
    var rowsEl = box.querySelector('[data-rows]');
    var add = box.querySelector('[data-add-row]');
    if (!template || !rowsEl || !add || !('content' in template)) {
      return; // very old browser: keep the server-rendered rows only
    }
    add.addEventListener('click', function () {
      var row = makeRow(box, nextIndex(box));
      applyShowIf(form);
      changed();
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
        changed();
        add.focus();
      }
    });
    refreshRepeat(box);
  }

  // ---- the fill kept on the phone ----------------------------------------------------------

  var DRAFT_PREFIX = 'taizhang:draft:';

  function storageGet(key) {
    try {
      var text = window.localStorage.getItem(key);
      return text ? JSON.parse(text) : null;
    } catch (e) {
      return null; // no storage (private mode) or a damaged entry: start afresh
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch (e) {
      return false; // full or refused: the page still works, it only cannot keep the fill
    }
  }

  function storageRemove(key) {
    try {
      window.localStorage.removeItem(key);
    } catch (e) { /* nothing kept */ }
  }

  // Photos picked but not yet uploaded wait in IndexedDB (localStorage holds text only), so a
  // closed tab or a crash does not lose them either. Without IndexedDB they wait in memory.
  var PHOTO_DB = 'taizhang-photos';

  function photoStore(mode) {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) {
        reject(new Error('no indexedDB'));
        return;
      }
      var request = window.indexedDB.open(PHOTO_DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore('photos');
      };
      request.onsuccess = function () {
        var db = request.result;
        var tx = db.transaction('photos', mode);
        tx.oncomplete = tx.onabort = function () { db.close(); };
        resolve(tx.objectStore('photos'));
      };
      request.onerror = function () { reject(request.error); };
    });
  }

  function photoPut(key, value) {
    return photoStore('readwrite').then(function (store) {
      return new Promise(function (resolve) {
        store.transaction.addEventListener('complete', resolve);
        store.transaction.addEventListener('abort', resolve);
        store.transaction.addEventListener('error', resolve);
        store.put(value, key);
      });
    }).catch(function () {});
  }

  function photoGet(key) {
    return photoStore('readonly').then(function (store) {
      return new Promise(function (resolve) {
        var request = store.get(key);
        request.onsuccess = function () { resolve(request.result || null); };
        request.onerror = function () { resolve(null); };
      });
    }).catch(function () { return null; });
  }

  function photoDelete(key) {
    return photoStore('readwrite').then(function (store) {
      store.delete(key);
    }).catch(function () {});
  }

  function isKept(el) {
    // Not kept: the page's own security token, form version (a fill restored into a newer
    // page is sent against the version of that page) and, on a correction page, the revision
    // of the submission the page was made from.
    return el.name && el.type !== 'file' && el.type !== 'submit' && el.type !== 'button' &&
      el.name !== 'csrf_token' && el.name !== 'form_version' && el.name !== 'revision' &&
      !el.hasAttribute('data-photo-ref');
  }

  // Everything typed, as a JSON value: values by input name, the rows of each repeat (by
  // their index, in order), the uploaded photos' references.
  function collectDraft(form) {
    var values = {};
    var names = [];
    each(form.elements, function (el) {
      if (!isKept(el)) {
        return;
      }
      if (names.indexOf(el.name) < 0) {
        names.push(el.name);
      }
      var list = values[el.name] || (values[el.name] = []);
      if (el.type === 'checkbox' || el.type === 'radio') {
        if (el.checked) {
          list.push(el.value);
        }
      } else if (el.tagName === 'SELECT' && el.multiple) {
        each(el.options, function (option) {
          if (option.selected) {
            list.push(option.value);
          }
        });
      } else {
        list.push(el.value);
      }
    });
    var rows = {};
    each(form.querySelectorAll('[data-repeat]'), function (box) {
      rows[box.id] = Array.prototype.map.call(
        box.querySelectorAll('[data-rows] > [data-row]'),
        function (row) { return row.getAttribute('data-row-index'); });
    });
    var photos = {};
    each(form.querySelectorAll('input[data-photo-ref]'), function (ref) {
      var box = ref.closest('[data-photo]');
      var state = box && box.querySelector('[data-photo-state]');
      photos[ref.name] = {ref: ref.value, text: state ? state.textContent : ''};
    });
    return {values: values, names: names, rows: rows, photos: photos};
  }

  function setPhotoRef(form, name, ref, text) {
    var file = form.querySelector('input[type=file][name="' + name + '"]');
    var box = file && file.closest('[data-photo]');
    if (!box) {
      return;
    }
    var hidden = box.querySelector('input[data-photo-ref]');
    if (!ref) {
      if (hidden) {
        hidden.parentNode.removeChild(hidden);
      }
      return;
    }
    if (!hidden) {
      hidden = document.createElement('input');
      hidden.type = 'hidden';
      hidden.name = name;
      hidden.setAttribute('data-photo-ref', '');
      box.insertBefore(hidden, box.firstChild);
    }
    hidden.value = ref;
    file.required = false;
    showPhotoState(box, text, false);
    showRemove(box, true);
  }

  function showRemove(box, shown) {
    var remove = box.querySelector('[data-photo-remove]');
    if (remove) {
      remove.hidden = !shown;
    }
  }

  function showPreview(box, blob) {
    var img = box.querySelector('[data-photo-preview]');
    if (!img) {
      return;
    }
    if (img.src) {
      URL.revokeObjectURL(img.src);
    }
    if (blob) {
      img.src = URL.createObjectURL(blob);
      img.hidden = false;
    } else {
      img.removeAttribute('src');
      img.hidden = true;
    }
  }

  function showPhotoState(box, text, isError) {
    var state = box.querySelector('[data-photo-state]');
    if (state) {
      state.textContent = text;
      state.hidden = !text;
      state.className = isError ? 'tz-error' : 'tz-photo-state';
      state.setAttribute('role', isError ? 'alert' : 'status');
    }
  }

  function restoreDraft(form, draft) {
    each(form.querySelectorAll('[data-repeat]'), function (box) {
      var wanted = draft.rows && draft.rows[box.id];
      if (!wanted || !box.querySelector('template[data-row-template]')) {
        return;
      }
      each(box.querySelectorAll('[data-rows] > [data-row]'), function (row) {
        row.parentNode.removeChild(row);
      });
      wanted.forEach(function (index) {
        if (/^\d+$/.test(String(index))) {
          makeRow(box, index);
        }
      });
    });
    var values = draft.values || {};
    var names = draft.names || [];
    each(form.elements, function (el) {
      if (!isKept(el) || names.indexOf(el.name) < 0) {
        return;
      }
      var saved = values[el.name] || [];
      if (el.type === 'checkbox' || el.type === 'radio') {
        el.checked = saved.indexOf(el.value) >= 0;
      } else if (el.tagName === 'SELECT' && el.multiple) {
        each(el.options, function (option) { option.selected = saved.indexOf(option.value) >= 0; });
      } else if (saved.length) {
        // Several inputs of one name keep their order (a hidden input before a checkbox...).
        var same = form.querySelectorAll('[name="' + el.name + '"]');
        var position = Array.prototype.indexOf.call(same, el);
        if (position < saved.length) {
          el.value = saved[position];
        }
      }
    });
    Object.keys(draft.photos || {}).forEach(function (name) {
      setPhotoRef(form, name, draft.photos[name].ref, draft.photos[name].text);
    });
  }

  // ---- talking to the server ---------------------------------------------------------------

  var SUBMIT_TIMEOUT_MS = 60000;
  var UPLOAD_TIMEOUT_MS = 300000;
  var RETRY_DELAYS_S = [5, 10, 20, 40, 60];
  var TRANSIENT = [0, 408, 429, 502, 503, 504];

  // A promise of {status, data} for a POST of formData; status 0 when the server could not be
  // reached (offline, timeout, aborted) or answered something that is not our JSON (a proxy's
  // error page, a captive portal).
  function post(url, formData, csrf, timeout, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('Accept', 'application/json');
      if (csrf) {
        xhr.setRequestHeader('X-CSRFToken', csrf);
      }
      xhr.timeout = timeout;
      if (onProgress && xhr.upload) {
        xhr.upload.onprogress = function (event) {
          if (event.lengthComputable) {
            onProgress(event.loaded / event.total);
          }
        };
      }
      xhr.onload = function () {
        var data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (e) {
          data = null;
        }
        // Not our JSON: a 2xx is a captive portal or a proxy's page (the server was not
        // reached: 0); an error keeps its status (502/503/504 are retried, a firewall's 403
        // is said).
        var status = data !== null ? xhr.status : (xhr.status < 400 ? 0 : xhr.status);
        resolve({status: status, data: data || {},
                 retryAfter: parseInt(xhr.getResponseHeader('Retry-After'), 10)});
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () {
        resolve({status: 0, data: {}});
      };
      xhr.send(formData);
    });
  }

  var MAX_SIDE = 1600;
  var JPEG_QUALITIES = [0.85, 0.75, 0.65, 0.55, 0.45];
  var TARGET_BYTES = 500 * 1024;

  function decode(file) {
    if (window.createImageBitmap) {
      return window.createImageBitmap(file, {imageOrientation: 'from-image'})
        .catch(function () { return decodeWithImg(file); });
    }
    return decodeWithImg(file);
  }

  function decodeWithImg(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        URL.revokeObjectURL(url);
        resolve(img);
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Error('decode'));
      };
      img.src = url;
    });
  }

  // The photo as it is sent: at most MAX_SIDE on its longest side, JPEG, upright (the
  // browser applies the EXIF orientation when it decodes). A photo the phone cannot decode is
  // sent as it is: the server then says whether it is an image.
  function shrink(file) {
    return decode(file).then(function (img) {
      var width = img.naturalWidth || img.width;
      var height = img.naturalHeight || img.height;
      var scale = Math.min(1, MAX_SIDE / Math.max(width, height));
      if (scale === 1 && file.type === 'image/jpeg' && file.size < 400 * 1024) {
        return file;
      }
      var canvas = document.createElement('canvas');
      canvas.width = Math.round(width * scale);
      canvas.height = Math.round(height * scale);
      var context = canvas.getContext('2d');
      context.fillStyle = '#fff'; // a transparent PNG gets a white, not black, background
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(img, 0, 0, canvas.width, canvas.height);
      if (img.close) {
        img.close();
      }
      return encode(canvas, 0).then(function (blob) {
        return blob && blob.size < file.size ? blob : file;
      });
    }, function () { return file; });
  }

  // JPEG of the canvas at the first quality that fits TARGET_BYTES (a detailed picture, a
  // field of crops, needs a lower quality than a face to fit).
  function encode(canvas, step) {
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITIES[step]);
    }).then(function (blob) {
      if (blob && blob.size > TARGET_BYTES && step + 1 < JPEG_QUALITIES.length) {
        return encode(canvas, step + 1);
      }
      return blob;
    });
  }

  function sizeText(bytes) {
    return bytes >= 1024 * 1024 ? (bytes / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(bytes / 1024)) + ' KB';
  }

  function jpegName(name) {
    var base = String(name || '照片').replace(/\.[^.\/]*$/, '');
    return (base || '照片') + '.jpg';
  }

  // A uuid4 in 32 hex digits, as forms.builder.new_submission_id makes.
  function newSubmissionId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    return Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? '0' : '') + b.toString(16);
    }).join('');
  }

  // ---- one page's fill ---------------------------------------------------------------------

  function Fill(form) {
    this.form = form;
    this.key = DRAFT_PREFIX + form.getAttribute('data-draft-key');
    this.photoUrl = form.getAttribute('data-photo-url');
    this.status = form.querySelector('[data-tz-status]');
    this.button = form.querySelector('[data-tz-submit]');
    this.uploads = {}; // input name -> {blob, promise}: photos picked, not yet stored
    this.pending = false;
    this.sending = false;
    this.attempt = 0;
    this.timer = null;
    this.saveTimer = null;
  }

  Fill.prototype.csrf = function () {
    var input = this.form.querySelector('input[name=csrf_token]');
    return input ? input.value : '';
  };

  Fill.prototype.sid = function () {
    return this.form.querySelector('input[name=submission_id]');
  };

  Fill.prototype.setStatus = function (text, kind) {
    if (!this.status) {
      return;
    }
    this.status.textContent = text;
    this.status.hidden = !text;
    this.statusKind = kind || '';
    this.status.className = 'tz-status' + (kind ? ' tz-status-' + kind : '');
  };

  Fill.prototype.setBusy = function (busy, label) {
    if (!this.button) {
      return;
    }
    this.button.disabled = busy;
    this.button.textContent = label || (busy ? '正在提交…' : '提交');
  };

  Fill.prototype.save = function () {
    var draft = collectDraft(this.form);
    draft.sid = this.sid().value;
    draft.savedAt = Date.now();
    draft.pending = this.pending;
    draft.waitingPhotos = Object.keys(this.uploads);
    if (this.cleared) {
      return false; // 清空重填 is under way: nothing is kept any more
    }
    this.kept = storageSet(this.key, draft);
    if (!this.kept) {
      storageRemove(this.key); // an older fill must not come back in place of this one
    }
    return this.kept;
  };

  Fill.prototype.saveSoon = function () {
    var fill = this;
    window.clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(function () {
      fill.saveTimer = null;
      var quiet = !fill.status || fill.status.hidden || fill.statusKind === 'saved' ||
        fill.statusKind === 'unsaved';
      if (!fill.save()) {
        fill.setStatus('手机存储空间不足，填写的内容无法保存在手机上，提交前请不要关闭本页。', 'unsaved');
      } else if (quiet && !fill.pending && !fill.sending) {
        fill.setStatus('已自动保存在手机上', 'saved');
      }
    }, 300);
  };

  Fill.prototype.clear = function () {
    var fill = this;
    this.cleared = true;
    window.clearTimeout(this.saveTimer);
    this.saveTimer = null;
    each(this.form.querySelectorAll('input[type=file]'), function (input) {
      photoDelete(fill.photoKey(input.name));
    });
    storageRemove(this.key);
  };

  Fill.prototype.restore = function () {
    var draft = storageGet(this.key);
    if (draft && draft.sent) {
      // Sent, but its receipt page never loaded (the network went): say where it is, once.
      var sent = document.querySelector('[data-tz-sent]');
      if (sent && draft.sent.url) {
        sent.querySelector('[data-tz-sent-receipt]').textContent = draft.sent.receipt;
        sent.querySelector('[data-tz-sent-link]').href = draft.sent.url;
        sent.hidden = false;
      }
      storageRemove(this.key);
      return null;
    }
    if (!draft || !draft.sid) {
      return null;
    }
    this.sid().value = draft.sid;
    restoreDraft(this.form, draft);
    var banner = document.querySelector('[data-tz-draft]');
    if (banner) {
      var time = banner.querySelector('[data-tz-draft-time]');
      if (time && draft.savedAt) {
        var at = new Date(draft.savedAt);
        time.textContent = '（保存于 ' + (at.getMonth() + 1) + '月' + at.getDate() + '日 ' +
          pad(at.getHours()) + ':' + pad(at.getMinutes()) + '）';
      }
      banner.hidden = false;
    }
    return draft;
  };

  Fill.prototype.pickPhoto = function (input) {
    var fill = this;
    var box = input.closest('[data-photo]');
    var file = input.files && input.files[0];
    if (!box || !file || !this.photoUrl) {
      return;
    }
    var name = input.name;
    setPhotoRef(this.form, name, null);
    showPhotoState(box, '正在压缩照片…', false);
    var job = {};
    showRemove(box, true);
    job.promise = shrink(file).then(function (blob) {
      job.blob = blob;
      showPreview(box, blob);
      job.fileName = blob === file ? file.name : jpegName(file.name);
      return photoPut(fill.photoKey(name), {blob: blob, fileName: job.fileName});
    }).then(function () {
      return fill.upload(name, job);
    });
    this.uploads[name] = job;
    this.save();
    input.value = ''; // the photo goes on its own; the form sends only its reference
  };

  Fill.prototype.photoKey = function (name) {
    return this.key + '|' + name;
  };

  // "删除照片": the fill has no photo in that field any more (one being uploaded is dropped).
  Fill.prototype.removePhoto = function (box) {
    var file = box.querySelector('input[type=file]');
    var name = file.name;
    delete this.uploads[name];
    photoDelete(this.photoKey(name));
    setPhotoRef(this.form, name, null);
    file.value = '';
    showPreview(box, null);
    showPhotoState(box, '', false);
    showRemove(box, false);
    box.querySelector('[data-photo-progress]').hidden = true;
    this.save();
  };

  // Photos of the saved fill that were picked but not uploaded: from IndexedDB, uploaded
  // now. One that cannot be found is said (the cadre picks it again); the fill is then not
  // sent by itself, so that it never goes without a photo the cadre picked.
  Fill.prototype.restorePhotos = function (draft) {
    var fill = this;
    var lost = false;
    return Promise.all((draft.waitingPhotos || []).map(function (name) {
      return photoGet(fill.photoKey(name)).then(function (saved) {
        var file = fill.form.querySelector('input[type=file][name="' + name + '"]');
        if (!file) {
          return;
        }
        if (!saved || !saved.blob) {
          lost = true;
          showPhotoState(file.closest('[data-photo]'), '上次选择的照片没有保存下来，请重新选择照片。', true);
          return;
        }
        var job = {blob: saved.blob, fileName: saved.fileName};
        showPreview(file.closest('[data-photo]'), saved.blob);
        showRemove(file.closest('[data-photo]'), true);
        fill.uploads[name] = job;
        job.promise = fill.upload(name, job);
      });
    })).then(function () { return !lost; });
  };

  // Upload a picked photo; resolves true once stored (its reference is in the form), false
  // when it was refused (the reason is shown) and null when the server was not reachable.
  Fill.prototype.upload = function (name, job) {
    var fill = this;
    var file = this.form.querySelector('input[type=file][name="' + name + '"]');
    var box = file.closest('[data-photo]');
    var progress = box.querySelector('[data-photo-progress]');
    var data = new FormData();
    data.append('csrf_token', this.csrf());
    data.append('photo', job.blob, job.fileName);
    progress.value = 0;
    progress.hidden = false;
    showPhotoState(box, '正在上传照片（' + sizeText(job.blob.size) + ')…', false);
    return post(this.photoUrl, data, this.csrf(), UPLOAD_TIMEOUT_MS, function (part) {
      progress.value = Math.round(part * 100);
    }).then(function (answer) {
      progress.hidden = true;
      if (fill.uploads[name] !== job) {
        return null; // another photo was picked meanwhile
      }
      if (answer.status === 201 && answer.data.ref) {
        delete fill.uploads[name];
        photoDelete(fill.photoKey(name));
        setPhotoRef(fill.form, name, answer.data.ref,
                    '已上传照片：' + answer.data.name + '（' + sizeText(answer.data.size) + '）');
        fill.save();
        return true;
      }
      if (answer.status === 400 && answer.data.csrf_token && !job.refreshed) {
        job.refreshed = true; // once: a page whose token is refused again must say so
        fill.setCsrf(answer.data.csrf_token);
        return fill.upload(name, job);
      }
      if (TRANSIENT.indexOf(answer.status) >= 0) {
        showPhotoState(box, '网络不通，照片尚未上传；网络恢复后会自动上传。', true);
        return null;
      }
      delete fill.uploads[name];
      photoDelete(fill.photoKey(name));
      fill.save();
      showPhotoState(box, answer.data.error || '照片上传失败，请重新选择。', true);
      return false;
    });
  };

  Fill.prototype.setCsrf = function (token) {
    each(document.querySelectorAll('input[name=csrf_token]'), function (input) {
      input.value = token;
    });
  };

  // Every photo picked is stored (true), or one cannot be stored yet (null: no network) or
  // at all (false: refused).
  Fill.prototype.finishUploads = function () {
    var fill = this;
    return Promise.all(Object.keys(this.uploads).map(function (name) {
      var job = fill.uploads[name];
      return job.promise.then(function (done) {
        if (done === null && fill.uploads[name] === job && job.blob) {
          job.promise = fill.upload(name, job); // failed earlier: once more, now
          return job.promise;
        }
        return done;
      });
    })).then(function (results) {
      if (results.indexOf(false) >= 0) {
        return false;
      }
      return results.indexOf(null) >= 0 ? null : true;
    });
  };

  Fill.prototype.body = function () {
    var data = new FormData(this.form);
    var body = new FormData();
    data.forEach(function (value, name) {
      if (typeof value === 'string') {
        body.append(name, value); // photos went on their own: only their references
      }
    });
    return body;
  };

  Fill.prototype.submit = function () {
    var fill = this;
    if (this.sending) {
      return;
    }
    window.clearTimeout(this.timer);
    this.sending = true;
    this.pending = true;
    this.save();
    this.setBusy(true);
    var photosLeft = Object.keys(this.uploads).length > 0;
    this.setStatus(photosLeft ? '正在上传照片…' : '正在提交…', 'sending');
    this.finishUploads().then(function (stored) {
      if (stored === false) {
        return {status: 'photo'};
      }
      if (stored === null) {
        return {status: 0, data: {}};
      }
      fill.setStatus('正在提交…', 'sending');
      return post(fill.form.action || window.location.href, fill.body(), fill.csrf(),
                  SUBMIT_TIMEOUT_MS);
    }).then(function (answer) {
      fill.sending = false;
      fill.answered(answer);
    });
  };

  Fill.prototype.answered = function (answer) {
    var data = answer.data || {};
    if (answer.status === 200 && data.url) {
      this.pending = false;
      this.clear();
      // Kept until the receipt page has loaded (static/js/receipt.js forgets it): if it does
      // not, the next open of the link says where the receipt is.
      storageSet(this.key, {sent: {receipt: data.receipt, url: data.url}});
      this.setStatus('已提交，回执编号 ' + data.receipt, 'done');
      this.setBusy(true, '已提交');
      window.location.replace(data.url);
      return;
    }
    if (answer.status === 400 && data.csrf_token && this.attempt < 3) {
      this.attempt += 1; // the page was open longer than its security token lives
      this.setCsrf(data.csrf_token);
      this.sending = false;
      this.submit();
      return;
    }
    this.attempt = 0;
    if (TRANSIENT.indexOf(answer.status) >= 0) {
      this.save();
      this.setBusy(false, '重新提交');
      var wait = RETRY_DELAYS_S[Math.min(this.retries || 0, RETRY_DELAYS_S.length - 1)];
      if (answer.retryAfter > wait) {
        wait = answer.retryAfter;
      }
      this.retries = (this.retries || 0) + 1;
      this.setStatus((answer.status === 0 ? '网络不通' : '服务器暂时繁忙') +
        (this.kept ? '，填写的内容已保存在手机上，' : '，手机存储空间不足，请不要关闭本页，') +
        wait + ' 秒后或网络恢复时将自动重新提交。', 'offline');
      this.scheduleRetry(wait);
      return;
    }
    // Refused: the fill stays on the phone, the cadre corrects it and submits again.
    this.pending = false;
    this.retries = 0;
    this.save();
    this.setBusy(false);
    if (answer.status === 'photo') {
      this.setStatus('有照片未能上传，请查看标红的项目后重新选择。', 'error');
    } else if (answer.status === 422) {
      if (!showErrors(this.form, data.errors || {})) {
        // The form changed since this page was served (a new version): the page is loaded
        // again, and the fill kept on the phone fills the new form.
        window.location.reload();
        return;
      }
      this.setStatus(data.message || '有项目需要修改，请查看标红的项目。', 'error');
    } else if (answer.status === 409) {
      this.conflict(data);
    } else {
      this.setStatus(data.error || ('提交失败（错误 ' + answer.status + '），请稍后重试；' +
        '填写的内容仍保存在手机上。'), 'error');
    }
  };

  // This fill's id was stored with other answers: the first send arrived after all, or a
  // second page of the same link sent it. Show where it is, and let the cadre send what is
  // on this page as a new fill.
  Fill.prototype.conflict = function (data) {
    var fill = this;
    this.setStatus(data.error || '这份填报此前已经提交过。', 'error');
    if (data.url) {
      var link = document.createElement('a');
      link.href = data.url;
      link.textContent = ' 查看已提交的内容（回执 ' + data.receipt + '）';
      this.status.appendChild(link);
    }
    var again = document.createElement('button');
    again.type = 'button';
    again.className = 'btn block';
    again.textContent = '把本页内容作为新的一份提交';
    again.addEventListener('click', function () {
      fill.sid().value = newSubmissionId();
      fill.save();
      fill.submit();
    });
    this.status.appendChild(again);
  };

  Fill.prototype.scheduleRetry = function (seconds) {
    var fill = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () {
      if (fill.pending) {
        fill.submit();
      }
    }, seconds * 1000);
  };

  function showErrors(form, errors) {
    each(form.querySelectorAll('.tz-error'), function (el) {
      if (!el.hasAttribute('data-photo-state')) {
        el.parentNode.removeChild(el);
      }
    });
    each(form.querySelectorAll('.tz-invalid'), function (el) { el.classList.remove('tz-invalid'); });
    each(form.querySelectorAll('[aria-invalid]'), function (el) { el.removeAttribute('aria-invalid'); });
    each(form.querySelectorAll('.tz-alert[data-client]'), function (el) {
      el.parentNode.removeChild(el);
    });
    var names = Object.keys(errors);
    var unknown = names.some(function (name) {
      return !form.querySelector('[name="' + name + '"]') && !form.querySelector('[data-field="' + name + '"]');
    });
    if (unknown) {
      return false;
    }
    var first = null;
    names.forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]:not([type=hidden])');
      var wrapper = input ? input.closest('.tz-field') : form.querySelector('[data-field="' + name + '"]');
      if (!wrapper) { // the page's own inputs (csrf_token, submission_id)
        wrapper = form.querySelector('.tz-fields') || form;
        wrapper = wrapper.insertBefore(document.createElement('div'), wrapper.firstChild);
        wrapper.className = 'tz-alert';
        wrapper.setAttribute('data-client', '');
      }
      wrapper.classList.add('tz-invalid');
      if (input) {
        input.setAttribute('aria-invalid', 'true');
      }
      (errors[name] || []).forEach(function (message) {
        var p = document.createElement('p');
        p.className = 'tz-error';
        p.setAttribute('role', 'alert');
        p.textContent = message;
        wrapper.appendChild(p);
      });
      if (!first) {
        first = wrapper;
      }
    });
    if (first) {
      first.scrollIntoView({block: 'center'});
      var focusable = first.querySelector('input:not([type=hidden]), select, textarea');
      if (focusable) {
        focusable.focus({preventScroll: true});
      }
    }
    return true;
  }

  function initForm(form) {
    var canKeep = !!(window.FormData && window.Promise && form.getAttribute('data-draft-key'));
    var fill = canKeep ? new Fill(form) : null;
    var draft = fill ? fill.restore() : null;
    if (fill) {
      each(form.querySelectorAll('[data-photo] input[data-photo-ref]'), function (ref) {
        showRemove(ref.closest('[data-photo]'), true); // kept by the server after an error
      });
    }
    var changed = fill ? function () { fill.saveSoon(); } : function () {};
    each(form.querySelectorAll('[data-repeat]'), function (box) {
      initRepeat(form, box, changed);
    });
    form.addEventListener('input', function () { applyShowIf(form); changed(); });
    form.addEventListener('change', function (event) {
      applyShowIf(form);
      if (fill && event.target.type === 'file') {
        fill.pickPhoto(event.target);
      }
      changed();
    });
    applyShowIf(form);
    if (!fill) {
      return;
    }
    form.addEventListener('click', function (event) {
      var remove = event.target.closest('[data-photo-remove]');
      if (remove) {
        fill.removePhoto(remove.closest('[data-photo]'));
      }
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      fill.retries = 0;
      fill.submit();
    });
    var reset = document.querySelector('[data-tz-reset]');
    if (reset) {
      reset.addEventListener('click', function () {
        if (window.confirm('确定清空已填写的全部内容，重新填写吗?')) {
          fill.clear();
          window.location.replace(window.location.pathname);
        }
      });
    }
    window.addEventListener('online', function () {
      if (fill.pending && !fill.sending) {
        fill.submit();
      } else if (!fill.sending) {
        fill.finishUploads(); // photos picked offline go up now
      }
    });
    window.addEventListener('storage', function (event) {
      if (event.key === fill.key && event.newValue && !fill.cleared) {
        fill.setStatus('本表单在另一个页面中也打开着并在填写，请只在一个页面中填写，以免内容互相覆盖。', 'error');
      }
    });
    window.addEventListener('pagehide', function () {
      if (fill.saveTimer) {
        fill.save();
      }
    });
    if (draft) {
      fill.restorePhotos(draft).then(function (complete) {
        if (draft.pending && complete) {
          fill.pending = true;
          fill.setStatus('上次提交未完成，正在重新提交…', 'sending');
          fill.submit();
        } else if (draft.pending) {
          fill.save();
          fill.setStatus('上次提交未完成：请重新选择照片后再点“提交”。', 'error');
        }
      });
    }
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
