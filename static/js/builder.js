/*
 * The visual form builder (templates/admin/builder.html). Vanilla ES2017, no library.
 *
 * The draft is one JSON document. The 高级 tab is its text (a <textarea>, which is also the
 * whole page without this script); the 字段 tab draws a card per field from the parsed
 * document and edits that object in place, so keys the cards do not know (default, stage…)
 * are kept as they are. Switching to 字段 parses the text: invalid JSON stays in 高级 with
 * the error in Chinese.
 *
 * - Save: the JSON text is POSTed with the revision the page started from (fetch, JSON
 *   answer). A draft saved by someone else since (409) is never overwritten silently: the
 *   message is shown, the admin's edits stay, autosave stops, and only an explicit
 *   "用我的内容覆盖草稿" (after a confirm) saves over it. Autosave runs 2.5 s after the
 *   last edit.
 * - Preview: the text is posted (debounced) into the phone frame, which renders it with the
 *   public page's macro and lists the problems check_draft found; each problem is shown on
 *   the card of the field its path names ("fields[3].label" -> the 4th card), with the path.
 * - Reorder: ↑/↓ buttons, or drag the ⠿ handle (pointer events: mouse, touch and pen alike;
 *   arrow keys on the handle too).
 * - Renaming a field the published version has records the old name in its renamed_from, so
 *   its answers stay in one column; show_if conditions that pointed at it follow the rename.
 *
 * Every text a person typed goes into the page as text (textContent, value), never as HTML.
 */
(function () {
  'use strict';

  const root = document.querySelector('[data-builder]');
  if (!root) {
    return;
  }

  function data(name) {
    return JSON.parse(root.getAttribute('data-' + name));
  }

  const TYPES = data('types'); // {type: Chinese name}, in the order offered
  const ROW_TYPES = data('row-types');
  const CONDITION_TYPES = data('condition-types');
  const REFUSED = data('refused'); // {type: [keys the meta-schema refuses for it]}
  const PUBLISHED = data('published'); // {names: [...], rows: {repeat name: [...]}}
  const FORM_ID = root.getAttribute('data-form-id');
  const SAVE_URL = root.getAttribute('data-save-url');
  const PUBLISH_URL = root.getAttribute('data-publish-url');

  const q = (selector) => root.querySelector(selector);
  const saveForm = q('[data-save-form]');
  const jsonBox = q('[data-json]');
  const jsonError = q('[data-json-error]');
  const listEl = q('[data-list]');
  const settingsEl = q('[data-settings]');
  const statusEl = q('[data-status]');
  const saveBtn = q('[data-save]');
  const publishBtn = q('[data-publish]');
  const whyEl = q('[data-publish-why]');
  const problemsBox = q('[data-problems-box]');
  const problemsTitle = q('[data-problems-title]');
  const problemsList = q('[data-problems]');
  const conflictBox = q('[data-conflict]');
  const conflictMsg = q('[data-conflict-message]');
  const announceEl = q('[data-announce]');
  const baseInput = q('[data-base-revision]');
  const previewForm = q('[data-preview-form]');
  const previewText = q('[data-preview-text]');
  const frame = q('[data-preview]');
  const addType = q('[data-add-type]');

  const state = {
    model: null, // the parsed draft, edited in place by the cards
    tab: 'json',
    jsonOfModel: null, // the text the 高级 tab was given from the model (unchanged: no re-parse)
    revision: parseInt(baseInput.value, 10) || 0,
    savedText: jsonBox.value,
    dirty: false,
    saving: null,
    saveAgain: false,
    againAction: '', // the action of the save asked for while one was running
    conflict: null,
    problems: [],
    previewedText: jsonBox.value,
    previewScroll: 0,
    expanded: {}, // card uid -> true
  };
  let leaving = false;
  let saveTimer = null;
  let previewTimer = null;

  // ---- small helpers -----------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach((key) => {
      const value = attrs[key];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (key === 'text') {
        node.textContent = value;
      } else if (key === 'className') {
        node.className = value;
      } else if (key === 'value') {
        node.value = value;
      } else if (key === 'checked' || key === 'selected' || key === 'disabled') {
        node[key] = true;
      } else {
        node.setAttribute(key, value === true ? '' : String(value));
      }
    });
    (children || []).forEach((child) => {
      if (child !== null && child !== undefined && child !== false) {
        node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
      }
    });
    return node;
  }

  function empty(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function announce(text) {
    announceEl.textContent = '';
    window.setTimeout(() => { announceEl.textContent = text; }, 30);
  }

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = 'bf-status' + (kind ? ' bf-status-' + kind : '');
  }

  function clock(iso) {
    return typeof iso === 'string' && iso.length >= 16 ? iso.slice(11, 16) : '';
  }

  const uids = new WeakMap();
  let nextUid = 1;
  function uid(obj) {
    if (!uids.has(obj)) {
      uids.set(obj, nextUid++);
    }
    return uids.get(obj);
  }

  // The name each field had when last committed: a rename is from this name.
  const committedNames = new WeakMap();
  let registry = {}; // card uid -> {field, scope, index}

  function formerNames(field) {
    const names = field.renamed_from;
    if (typeof names === 'string') {
      return [names];
    }
    return Array.isArray(names) ? names.slice() : [];
  }

  function refused(type, key) {
    return (REFUSED[type] || []).indexOf(key) >= 0;
  }

  function typeLabel(type) {
    return TYPES[type] || ('未知类型 ' + type);
  }

  // ---- the text and the model ----------------------------------------------------------------

  function jsonProblem(error, text) {
    const message = String(error && error.message || '');
    const at = /position (\d+)/.exec(message);
    if (at) {
      const before = text.slice(0, parseInt(at[1], 10)).split('\n');
      return 'JSON 格式错误:第 ' + before.length + ' 行第 ' + (before[before.length - 1].length + 1) +
        ' 列附近。请修正后再切换到“字段”。';
    }
    if (/end of JSON|Unexpected end/i.test(message)) {
      return 'JSON 不完整(可能缺少结尾的 } 或 ])。请修正后再切换到“字段”。';
    }
    return 'JSON 格式错误,请修正后再切换到“字段”。';
  }

  function parseModel(text) {
    let model;
    try {
      model = JSON.parse(text);
    } catch (error) {
      return {error: jsonProblem(error, text)};
    }
    if (!model || typeof model !== 'object' || Array.isArray(model)) {
      return {error: '表单定义应是一个 JSON 对象 { … }。请修正后再切换到“字段”。'};
    }
    if (model.fields === undefined) {
      model.fields = [];
    }
    if (!Array.isArray(model.fields)) {
      return {error: '"fields" 应是字段的列表 [ … ]。请修正后再切换到“字段”。'};
    }
    for (let i = 0; i < model.fields.length; i++) {
      const field = model.fields[i];
      if (!field || typeof field !== 'object' || Array.isArray(field)) {
        return {error: 'fields[' + i + '] 应是一个对象 { … }。请修正后再切换到“字段”。'};
      }
      if (field.fields !== undefined && !Array.isArray(field.fields)) {
        return {error: 'fields[' + i + '].fields 应是子字段的列表 [ … ]。请修正后再切换到“字段”。'};
      }
      for (let j = 0; j < (field.fields || []).length; j++) {
        const sub = field.fields[j];
        if (!sub || typeof sub !== 'object' || Array.isArray(sub)) {
          return {error: 'fields[' + i + '].fields[' + j + '] 应是一个对象 { … }。请修正后再切换到“字段”。'};
        }
      }
    }
    return {model: model};
  }

  function modelText() {
    return JSON.stringify(state.model, null, 2);
  }

  function currentText() {
    return state.tab === 'json' || !state.model ? jsonBox.value : modelText();
  }

  // ---- edits ---------------------------------------------------------------------------------

  function edited() {
    state.dirty = currentText() !== state.savedText;
    if (state.dirty && !state.conflict) {
      setStatus('有未保存的修改');
    }
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, 600);
    window.clearTimeout(saveTimer);
    if (state.dirty && !state.conflict) {
      saveTimer = window.setTimeout(() => { save(); }, 2500);
    }
  }

  function publishedNames(scope) {
    if (!scope.parent) {
      return PUBLISHED.names;
    }
    let names = [];
    [scope.parent.name].concat(formerNames(scope.parent)).forEach((name) => {
      names = names.concat(PUBLISHED.rows[name] || []);
    });
    return names;
  }

  function suggestName(scope) {
    const used = {};
    scope.list.forEach((f) => {
      used[f.name] = true;
      formerNames(f).forEach((n) => { used[n] = true; });
    });
    publishedNames(scope).forEach((n) => { used[n] = true; });
    let n = 1;
    while (used['field_' + n]) {
      n++;
    }
    return 'field_' + n;
  }

  function newField(type, scope) {
    const field = {name: suggestName(scope), type: type, label: TYPES[type]};
    if (type === 'select' || type === 'multiselect') {
      field.choices = ['选项一', '选项二'];
    }
    if (type === 'repeat') {
      field.fields = [];
      field.fields.push(newField('text', {list: field.fields, parent: field}));
      field.fields[0].label = '内容';
      state.expanded[uid(field.fields[0])] = true;
    }
    return field;
  }

  function rename(field, scope, name) {
    const old = committedNames.has(field) ? committedNames.get(field) : field.name;
    field.name = name;
    committedNames.set(field, name);
    if (old === name) {
      return;
    }
    let former = formerNames(field);
    if (old && publishedNames(scope).indexOf(old) >= 0 && former.indexOf(old) < 0) {
      former.push(old);
    }
    former = former.filter((n) => n !== name);
    if (former.length && !refused(field.type, 'renamed_from')) {
      field.renamed_from = former;
    } else {
      delete field.renamed_from;
    }
    scope.list.forEach((other) => {
      if (other.show_if && other.show_if.field === old) {
        other.show_if.field = name;
      }
    });
  }

  const NUMBER_KIND = {integer: 'number', decimal: 'number', date: 'date', month: 'month',
                       multiselect: 'count'};

  function changeType(field, type, select) {
    if (field.type === 'repeat' && type !== 'repeat' && (field.fields || []).length) {
      if (!window.confirm('改为其他类型将删除这个重复组的 ' + field.fields.length + ' 个子字段,确定吗?')) {
        select.value = field.type;
        return false;
      }
    }
    if (NUMBER_KIND[field.type] !== NUMBER_KIND[type]) {
      delete field.min;
      delete field.max;
    }
    field.type = type;
    (REFUSED[type] || []).forEach((key) => { delete field[key]; });
    if ((type === 'select' || type === 'multiselect') && !field.choices) {
      field.choices = ['选项一', '选项二'];
    }
    if (type === 'repeat' && !field.fields) {
      field.fields = [];
      field.fields.push(newField('text', {list: field.fields, parent: field}));
      field.fields[0].label = '内容';
      state.expanded[uid(field.fields[0])] = true;
    }
    return true;
  }

  function parseChoices(text) {
    const choices = [];
    text.split('\n').forEach((line) => {
      const clean = line.trim();
      if (!clean) {
        return;
      }
      const bar = clean.indexOf('|');
      if (bar > 0) {
        choices.push({value: clean.slice(0, bar).trim(), label: clean.slice(bar + 1).trim()});
      } else {
        choices.push(clean);
      }
    });
    return choices;
  }

  function choicesText(choices) {
    return (Array.isArray(choices) ? choices : []).map((c) => {
      if (c && typeof c === 'object') {
        return c.value === c.label ? String(c.label) : c.value + '|' + c.label;
      }
      return String(c);
    }).join('\n');
  }

  function choiceList(field) {
    return (Array.isArray(field.choices) ? field.choices : []).map((c) => (
      c && typeof c === 'object' ? {value: String(c.value), label: String(c.label)}
        : {value: String(c), label: String(c)}));
  }

  // Typed text -> the JSON value of a constraint: a number when it reads as one (the
  // meta-schema says what else is wrong), the text otherwise, nothing when empty.
  function numberValue(text, integer) {
    const clean = text.trim();
    if (!clean) {
      return undefined;
    }
    if (integer ? /^-?\d+$/.test(clean) : /^-?\d+(\.\d+)?$/.test(clean)) {
      return Number(clean);
    }
    return clean;
  }

  function setOrDelete(obj, key, value) {
    if (value === undefined || value === '' || value === null) {
      delete obj[key];
    } else {
      obj[key] = value;
    }
  }

  function conditionValue(target, text) {
    if (target && target.type === 'boolean') {
      return text === 'true';
    }
    if (target && (target.type === 'integer' || target.type === 'decimal')) {
      const number = numberValue(text, target.type === 'integer');
      return number === undefined ? '' : number;
    }
    return text;
  }

  function defaultCondition(target) {
    if (target.type === 'boolean') {
      return true;
    }
    const choices = choiceList(target);
    return choices.length ? choices[0].value : '';
  }

  // ---- drawing the cards ---------------------------------------------------------------------

  function control(id, labelText, input, hint, extraClass) {
    const hintId = hint ? id + '-hint' : null;
    if (hintId) {
      input.setAttribute('aria-describedby', hintId);
    }
    return el('div', {className: 'bf-ctl' + (extraClass ? ' ' + extraClass : '')}, [
      el('label', {for: id, text: labelText}),
      hint ? el('p', {className: 'tz-hint', id: hintId, text: hint}) : null,
      input,
    ]);
  }

  function textInput(id, key, value, attrs) {
    return el('input', Object.assign({type: 'text', id: id, className: 'input', 'data-key': key,
                                      value: value === undefined || value === null ? '' : String(value),
                                      autocomplete: 'off'}, attrs || {}));
  }

  function textArea(id, key, value, rows) {
    return el('textarea', {id: id, className: 'input', 'data-key': key, rows: rows || 2,
                           value: value === undefined || value === null ? '' : String(value)});
  }

  function select(id, key, options, current) {
    const node = el('select', {id: id, className: 'input', 'data-key': key});
    options.forEach((o) => {
      node.appendChild(el('option', {value: o.value, text: o.label,
                                     selected: String(o.value) === String(current)}));
    });
    return node;
  }

  function checkbox(id, key, checked, text, hint) {
    const box = el('input', {type: 'checkbox', id: id, 'data-key': key, checked: !!checked,
                             className: 'bf-checkbox'});
    const wrap = el('div', {className: 'bf-ctl'}, [el('label', {className: 'bf-check', for: id}, [box, ' ' + text])]);
    if (hint) {
      box.setAttribute('aria-describedby', id + '-hint');
      wrap.appendChild(el('p', {className: 'tz-hint', id: id + '-hint', text: hint}));
    }
    return wrap;
  }

  const MIN_MAX = {
    integer: ['最小值', '最大值', 'numeric'],
    decimal: ['最小值', '最大值', 'decimal'],
    date: ['最早日期', '最晚日期', 'date'],
    month: ['最早月份', '最晚月份', 'month'],
    multiselect: ['最少选几项', '最多选几项', 'numeric'],
  };

  function settingsCard() {
    const m = state.model;
    const box = el('section', {className: 'card bf-settings', 'aria-labelledby': 'bf-settings-title'}, [
      el('h2', {id: 'bf-settings-title', text: '表单信息'}),
      el('p', {className: 'muted small'}, ['表单编号:', el('code', {text: FORM_ID})]),
      el('div', {className: 'bf-errors', id: 'bf-form-errors', 'data-errors': ''}),
    ]);
    box.appendChild(control('bf-form-title', '表单标题', textInput('bf-form-title', 'form.title', m.title, {maxlength: 200})));
    box.appendChild(control('bf-form-description', '表单说明(填报人在标题下看到)', textArea('bf-form-description', 'form.description', m.description, 3)));
    box.appendChild(control('bf-form-stage', '阶段(可不填,如 申报、月报、验收)', textInput('bf-form-stage', 'form.stage', m.stage, {maxlength: 50})));
    return box;
  }

  function fieldCard(field, index, scope) {
    const u = uid(field);
    const id = 'bf-' + u;
    if (!committedNames.has(field)) {
      committedNames.set(field, field.name);
    }
    registry[u] = {field: field, scope: scope, index: index};
    const open = !!state.expanded[u];
    const title = field.label ? String(field.label) : '(未填标题)';
    const last = scope.list.length - 1;

    const head = el('div', {className: 'bf-card-head'}, [
      el('button', {type: 'button', className: 'bf-toggle', id: id + '-toggle', 'data-action': 'toggle',
                    'aria-expanded': String(open), 'aria-controls': id + '-body'}, [
        el('span', {className: 'bf-num', text: (index + 1) + '.'}),
        el('span', {className: 'bf-kind', text: typeLabel(field.type)}),
        el('span', {className: 'bf-title', 'data-title': '', text: title}),
      ]),
      el('button', {type: 'button', className: 'bf-icon', id: id + '-up', 'data-action': 'up',
                    'aria-label': '上移:' + title, disabled: index === 0, text: '↑'}),
      el('button', {type: 'button', className: 'bf-icon', id: id + '-down', 'data-action': 'down',
                    'aria-label': '下移:' + title, disabled: index === last, text: '↓'}),
      el('button', {type: 'button', className: 'bf-icon bf-handle', id: id + '-drag', 'data-action': 'drag',
                    'aria-label': '拖动排序:' + title, 'aria-describedby': 'bf-list-hint', text: '⠿'}),
    ]);

    const body = el('fieldset', {className: 'bf-body', id: id + '-body', hidden: !open}, [
      el('legend', {className: 'tz-sr', text: '第 ' + (index + 1) + ' 项「' + title + '」的设置'}),
    ]);
    const add = (node) => { body.appendChild(node); };
    const type = field.type;
    const types = (scope.parent ? ROW_TYPES : Object.keys(TYPES)).map((t) => ({value: t, label: TYPES[t]}));
    if (!TYPES[type] || (scope.parent && ROW_TYPES.indexOf(type) < 0)) {
      types.unshift({value: type, label: typeLabel(type) + (scope.parent && TYPES[type] ? '(不能放在重复组里)' : '')});
    }
    add(control(id + '-type', '类型', select(id + '-type', 'type', types, type)));
    add(control(id + '-label', type === 'section' ? '分节标题' : '标题(填报人看到的问题)',
                textInput(id + '-label', 'label', field.label, {maxlength: 200})));
    const published = !refused(type, 'renamed_from') &&
      (publishedNames(scope).indexOf(committedNames.get(field)) >= 0 || formerNames(field).length > 0);
    add(control(id + '-name', '字段名(英文,导出和接口用)',
                textInput(id + '-name', 'name', field.name, {autocapitalize: 'off', spellcheck: 'false', maxlength: 40}),
                '小写字母开头,只含小写字母、数字和 _。' +
                (published ? '已发布的字段改名后,旧名称自动记入“曾用名”,已提交的答案仍在同一列。' : '')));
    if (formerNames(field).length) {
      add(el('p', {className: 'bf-former', 'data-former': ''}, ['曾用名:', el('code', {text: formerNames(field).join('、')})]));
    }
    add(control(id + '-hint', type === 'section' ? '说明(可不填)' : '填写说明(可不填)', textArea(id + '-hint', 'hint', field.hint, 2)));
    if (!refused(type, 'required')) {
      add(checkbox(id + '-required', 'required', field.required === true,
                   type === 'boolean' ? '必须勾选' : '必填',
                   type === 'boolean' ? '用于承诺等必须勾选的项目。' :
                     type === 'repeat' ? '至少填写一行。' : null));
    }
    if (!refused(type, 'show_if')) {
      add(conditionControls(field, index, scope, id));
    }
    if (!refused(type, 'unit')) {
      add(control(id + '-unit', '单位(可不填,如 万元、人、亩)', textInput(id + '-unit', 'unit', field.unit, {maxlength: 20})));
    }
    if (!refused(type, 'min') && MIN_MAX[type]) {
      const [minLabel, maxLabel, mode] = MIN_MAX[type];
      const attrs = mode === 'date' || mode === 'month' ? {type: mode} : {inputmode: mode === 'decimal' ? 'decimal' : 'numeric'};
      if (type === 'integer' || type === 'decimal') {
        attrs.inputmode = 'text'; // a minimum may be negative: phone number pads have no minus
      }
      const row = el('div', {className: 'bf-pair'});
      row.appendChild(control(id + '-min', minLabel, textInput(id + '-min', 'min', field.min, attrs)));
      row.appendChild(control(id + '-max', maxLabel, textInput(id + '-max', 'max', field.max, attrs)));
      add(row);
    }
    if (!refused(type, 'min_length') && REFUSED[type]) {
      const row = el('div', {className: 'bf-pair'});
      row.appendChild(control(id + '-min_length', '最少字数', textInput(id + '-min_length', 'min_length', field.min_length, {inputmode: 'numeric'})));
      row.appendChild(control(id + '-max_length', '最多字数', textInput(id + '-max_length', 'max_length', field.max_length, {inputmode: 'numeric'}),
                              type === 'textarea' ? '不填为 5000 字。' : '不填为 200 字。'));
      add(row);
    }
    if (!refused(type, 'pattern') && REFUSED[type]) {
      add(control(id + '-pattern', '格式(正则表达式,可不填)', textInput(id + '-pattern', 'pattern', field.pattern, {spellcheck: 'false', autocapitalize: 'off'}),
                  '例如 ^\\d{6}$ 表示 6 位数字。'));
      add(control(id + '-pattern_message', '格式不符时的提示', textInput(id + '-pattern_message', 'pattern_message', field.pattern_message, {maxlength: 200}),
                  '例如“请填写 6 位数字”。'));
    }
    if (!refused(type, 'choices') && (type === 'select' || type === 'multiselect')) {
      add(control(id + '-choices', '选项(每行一个)', textArea(id + '-choices', 'choices', choicesText(field.choices), 5),
                  '保存的值与显示的文字不同时,写成 值|显示文字,例如 reform|党建改革创新类。'));
    }
    if (type === 'repeat') {
      const row = el('div', {className: 'bf-pair'});
      row.appendChild(control(id + '-min_items', '最少行数', textInput(id + '-min_items', 'min_items', field.min_items, {inputmode: 'numeric'})));
      row.appendChild(control(id + '-max_items', '最多行数', textInput(id + '-max_items', 'max_items', field.max_items, {inputmode: 'numeric'})));
      add(row);
    }
    if (type === 'repeat' && Array.isArray(field.fields)) {
      add(subList(field, scope, id));
    }
    add(el('div', {className: 'bf-remove'}, [
      el('button', {type: 'button', className: 'btn danger', id: id + '-remove', 'data-action': 'remove',
                    text: scope.parent ? '删除此子字段' : '删除此字段'}),
    ]));

    return el('li', {className: 'bf-card' + (scope.parent ? ' bf-sub' : ''), id: id, 'data-uid': u}, [
      head,
      el('div', {className: 'bf-errors', id: id + '-errors', 'data-errors': ''}),
      body,
    ]);
  }

  function conditionControls(field, index, scope, id) {
    const box = el('div', {className: 'bf-condition'});
    const earlier = scope.list.slice(0, index).filter((f) => CONDITION_TYPES.indexOf(f.type) >= 0 && f.name);
    const condition = field.show_if && typeof field.show_if === 'object' ? field.show_if : null;
    const options = [{value: '', label: '总是显示'}].concat(earlier.map((f) => (
      {value: f.name, label: '当「' + (f.label || f.name) + '」…时显示'})));
    const targetName = condition ? condition.field : '';
    if (targetName && !earlier.some((f) => f.name === targetName)) {
      options.push({value: targetName, label: '(前面没有字段 ' + targetName + ')'});
    }
    box.appendChild(control(id + '-show_if', '显示条件', select(id + '-show_if', 'show_if.field', options, targetName),
                            earlier.length ? null : '前面还没有可作为条件的字段(单选、多选、是/否、文字、数字、日期等)。'));
    const target = condition && earlier.find((f) => f.name === targetName);
    if (!condition || !target) {
      return box;
    }
    const choices = choiceList(target);
    if (target.type === 'select' || target.type === 'multiselect') {
      const many = Array.isArray(condition.in);
      if (many) {
        const picked = condition.in.map(String);
        const group = el('fieldset', {className: 'bf-ctl bf-choices'}, [
          el('legend', {text: '满足以下任一选项时显示'})]);
        choices.forEach((c, i) => {
          const boxId = id + '-show_if-in-' + i;
          group.appendChild(el('label', {className: 'bf-check', for: boxId}, [
            el('input', {type: 'checkbox', id: boxId, 'data-key': 'show_if.in', value: c.value,
                         checked: picked.indexOf(c.value) >= 0, className: 'bf-checkbox'}),
            ' ' + c.label]));
        });
        box.appendChild(group);
      } else {
        const values = choices.slice();
        const current = condition.equals;
        if (current !== undefined && !values.some((c) => c.value === String(current))) {
          values.push({value: String(current), label: String(current) + '(已不在选项中)'});
        }
        box.appendChild(control(id + '-show_if-equals', '等于', select(id + '-show_if-equals', 'show_if.equals', values, current)));
      }
      box.appendChild(checkbox(id + '-show_if-many', 'show_if.many', many, '可以是多个选项之一'));
    } else if (target.type === 'boolean') {
      box.appendChild(control(id + '-show_if-equals', '等于', select(id + '-show_if-equals', 'show_if.equals',
        [{value: 'true', label: '是(已勾选)'}, {value: 'false', label: '否(未勾选)'}], String(condition.equals))));
    } else {
      box.appendChild(control(id + '-show_if-equals', '等于', textInput(id + '-show_if-equals', 'show_if.equals',
        condition.equals === undefined ? '' : condition.equals)));
    }
    return box;
  }

  function subList(field, scope, id) {
    const subScope = {list: field.fields, parent: field};
    const list = el('ol', {className: 'bf-list bf-sublist', 'aria-labelledby': id + '-subtitle'});
    field.fields.forEach((sub, i) => { list.appendChild(fieldCard(sub, i, subScope)); });
    if (!field.fields.length) {
      list.appendChild(el('li', {className: 'bf-empty', text: '还没有子字段。'}));
    }
    const options = ROW_TYPES.map((t) => ({value: t, label: TYPES[t]}));
    return el('div', {className: 'bf-subfields'}, [
      el('h3', {id: id + '-subtitle', text: '每一行的子字段'}),
      list,
      el('div', {className: 'bf-add'}, [
        control(id + '-addtype', '子字段类型', select(id + '-addtype', 'add-sub-type', options, 'text')),
        el('button', {type: 'button', className: 'btn', 'data-action': 'add-sub', id: id + '-addsub', text: '＋ 添加子字段'}),
      ]),
    ]);
  }

  function render() {
    const active = document.activeElement;
    const focusId = active && root.contains(active) ? active.id : null;
    const selection = focusId && typeof active.selectionStart === 'number' && active.type !== 'checkbox'
      ? [active.selectionStart, active.selectionEnd] : null;
    registry = {};
    empty(settingsEl);
    settingsEl.appendChild(settingsCard());
    empty(listEl);
    const scope = {list: state.model.fields, parent: null};
    state.model.fields.forEach((field, i) => { listEl.appendChild(fieldCard(field, i, scope)); });
    if (!state.model.fields.length) {
      listEl.appendChild(el('li', {className: 'bf-empty', text: '还没有字段。在下面选择类型,点“添加字段”。'}));
    }
    decorate();
    if (focusId) {
      const again = document.getElementById(focusId);
      if (again && !again.disabled) {
        again.focus({preventScroll: true});
        if (selection) {
          try {
            again.setSelectionRange(selection[0], selection[1]);
          } catch (error) { /* not a text input */ }
        }
      }
    }
  }

  // Drawing the cards again while a finger or the mouse is down on a button would swallow
  // its click (the button is replaced between press and release): wait for the release.
  let renderTimer = null;
  let pressed = false;
  let renderAfterPress = false;
  function renderSoon() {
    window.clearTimeout(renderTimer);
    if (pressed) {
      renderAfterPress = true;
      return;
    }
    renderTimer = window.setTimeout(render, 0);
  }
  document.addEventListener('pointerdown', () => { pressed = true; }, true);
  ['pointerup', 'pointercancel'].forEach((type) => {
    document.addEventListener(type, () => {
      pressed = false;
      if (renderAfterPress) {
        renderAfterPress = false;
        renderSoon(); // after the click this release makes
      }
    }, true);
  });

  // ---- problems beside their fields ------------------------------------------------------------

  function problemText(p) {
    return (p.path ? p.path + ':' : '') + p.reason;
  }

  function cardOf(p) {
    if (!state.model || p.field === null || p.field === undefined) {
      return null;
    }
    const field = state.model.fields[p.field];
    if (!field) {
      return null;
    }
    if (p.sub === null || p.sub === undefined) {
      return {field: field, parent: null};
    }
    const sub = Array.isArray(field.fields) ? field.fields[p.sub] : null;
    return sub ? {field: sub, parent: field} : null;
  }

  function markControl(card, key, errorId) {
    if (!key) {
      return;
    }
    let name = /^show_if/.test(key) ? (/equals|in/.test(key) ? 'show_if.equals' : 'show_if.field')
      : key.split(/[.[]/)[0];
    if (name === 'renamed_from') {
      name = 'name';
    }
    const body = card.querySelector(':scope > .bf-body');
    if (!body) {
      return;
    }
    const input = Array.prototype.find.call(body.querySelectorAll('[data-key="' + name + '"]'),
                                           (node) => node.closest('.bf-card') === card);
    if (input) {
      input.setAttribute('aria-invalid', 'true');
      const described = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
      if (described.indexOf(errorId) < 0) {
        described.push(errorId);
      }
      input.setAttribute('aria-describedby', described.join(' '));
    }
  }

  function decorate() {
    root.querySelectorAll('[data-errors]').forEach(empty);
    root.querySelectorAll('.bf-invalid').forEach((node) => { node.classList.remove('bf-invalid'); });
    root.querySelectorAll('[aria-invalid]').forEach((node) => {
      node.removeAttribute('aria-invalid');
      const kept = (node.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !/-err-\d+$/.test(x));
      if (kept.length) {
        node.setAttribute('aria-describedby', kept.join(' '));
      } else {
        node.removeAttribute('aria-describedby');
      }
    });
    const formBox = document.getElementById('bf-form-errors');
    state.problems.forEach((p, i) => {
      const found = cardOf(p);
      const card = found && document.getElementById('bf-' + uid(found.field));
      const box = card ? card.querySelector(':scope > [data-errors]') : formBox;
      if (!box) {
        return;
      }
      const errorId = (card ? card.id : 'bf-form') + '-err-' + i;
      box.appendChild(el('p', {className: 'tz-error', id: errorId, text: problemText(p)}));
      if (card) {
        card.classList.add('bf-invalid');
        markControl(card, p.key, errorId);
        if (found.parent) {
          const parentCard = document.getElementById('bf-' + uid(found.parent));
          const parentBox = parentCard && parentCard.querySelector(':scope > [data-errors]');
          if (parentBox && !parentBox.querySelector('[data-sub-note]')) {
            parentCard.classList.add('bf-invalid');
            parentBox.appendChild(el('p', {className: 'tz-error', 'data-sub-note': '', text: '子字段有错误,请展开查看。'}));
          }
        }
      } else if (/^(title|description|stage|id)\b/.test(p.path)) {
        const key = p.path.split(/[.[]/)[0];
        const input = document.getElementById('bf-form-' + key);
        if (input) {
          input.setAttribute('aria-invalid', 'true');
          input.setAttribute('aria-describedby', errorId);
        }
      }
    });
  }

  function setProblems(problems) {
    state.problems = problems || [];
    if (state.model && state.tab === 'fields') {
      decorate();
    }
    empty(problemsList);
    state.problems.forEach((p) => {
      const found = cardOf(p);
      const item = el('li');
      if (found && state.tab === 'fields') {
        item.appendChild(el('button', {type: 'button', className: 'link bf-jump', 'data-action': 'jump',
                                       'data-target': 'bf-' + uid(found.field), text: problemText(p)}));
      } else {
        item.appendChild(document.createTextNode(problemText(p)));
      }
      problemsList.appendChild(item);
    });
    const n = state.problems.length;
    problemsBox.hidden = !n;
    problemsTitle.textContent = '草稿有 ' + n + ' 处错误,修正后才能发布';
    updatePublish();
  }

  function updatePublish() {
    const n = state.problems.length;
    publishBtn.disabled = n > 0 || !!state.conflict;
    whyEl.hidden = !publishBtn.disabled;
    whyEl.textContent = state.conflict ? '草稿已被其他人修改,处理之后才能发布。'
      : n ? '草稿有 ' + n + ' 处错误(见标红的字段),修正后才能发布。' : '';
  }

  function problemsFrom(doc) {
    const out = [];
    doc.querySelectorAll('[data-problem]').forEach((item) => {
      const index = (name) => (item.hasAttribute(name) ? parseInt(item.getAttribute(name), 10) : null);
      out.push({path: item.getAttribute('data-path') || '', reason: item.getAttribute('data-reason') || '',
                field: index('data-field-index'), sub: index('data-sub-index'),
                key: item.getAttribute('data-key')});
    });
    return out;
  }

  // ---- the phone preview -----------------------------------------------------------------------

  function refreshPreview() {
    const text = currentText();
    if (text === state.previewedText) {
      return;
    }
    state.previewedText = text;
    try {
      state.previewScroll = frame.contentWindow.scrollY;
    } catch (error) {
      state.previewScroll = 0;
    }
    previewText.value = text;
    previewForm.submit();
  }

  function previewLoaded() {
    let doc = null;
    try {
      doc = frame.contentDocument;
    } catch (error) {
      return;
    }
    if (!doc || !doc.querySelector('[data-problems]')) {
      return; // not the preview (an error page, a login page the frame may not show)
    }
    setProblems(problemsFrom(doc));
    if (state.previewScroll) {
      frame.contentWindow.scrollTo(0, state.previewScroll);
    }
  }

  // ---- saving ----------------------------------------------------------------------------------

  class SaveProblem extends Error {}

  // ``action``: 'save' or 'publish' when the admin asked for it (audited), '' for an autosave.
  function post(text, revision, action, retried) {
    // URL-encoded, not multipart: a multipart body turns every newline into CRLF.
    const body = new URLSearchParams();
    body.append('csrf_token', saveForm.querySelector('[name=csrf_token]').value);
    body.append('text', text);
    body.append('base_revision', String(revision));
    body.append('action', action || '');
    return fetch(SAVE_URL, {method: 'POST', body: body, credentials: 'same-origin',
                            headers: {Accept: 'application/json'}})
      .then((response) => {
        const type = response.headers.get('Content-Type') || '';
        if (type.indexOf('application/json') < 0) {
          throw new SaveProblem(response.redirected
            ? '登录已过期:请在新窗口中重新登录,再回到本页点“保存草稿”。您的修改仍在本页。'
            : '保存失败(服务器返回 ' + response.status + '),您的修改仍在本页,请稍后再试。');
        }
        return response.json().then((answer) => {
          if (response.status === 400 && answer.csrf_token && !retried) {
            document.querySelectorAll('input[name=csrf_token]').forEach((input) => {
              if (input.form === saveForm || input.form === previewForm) {
                input.value = answer.csrf_token;
              }
            });
            return post(text, revision, action, true);
          }
          return {status: response.status, answer: answer};
        });
      });
  }

  function save(overwrite, action) {
    if (state.saving) {
      state.saveAgain = true;
      state.againAction = action || state.againAction;
      return state.saving;
    }
    if (state.conflict && overwrite === undefined) {
      setStatus('没有保存:草稿已被其他人修改。请先选择“用我的内容覆盖草稿”或“放弃我的修改”。', 'error');
      conflictBox.scrollIntoView({block: 'nearest'});
      return Promise.resolve(false);
    }
    window.clearTimeout(saveTimer);
    const text = currentText();
    setStatus('正在保存…');
    saveBtn.disabled = true;
    state.saving = post(text, overwrite === undefined ? state.revision : overwrite, action)
      .then((result) => {
        const answer = result.answer;
        if (result.status === 200) {
          state.revision = answer.revision;
          baseInput.value = String(answer.revision);
          state.savedText = text;
          state.dirty = currentText() !== text;
          state.conflict = null;
          conflictBox.hidden = true;
          setStatus('草稿已保存(第 ' + answer.revision + ' 次,' + clock(answer.saved_at) + ')' +
                    (state.dirty ? ';之后还有未保存的修改' : ''), 'ok');
          if (text === currentText()) {
            setProblems(answer.errors);
          } else {
            updatePublish();
          }
          return true;
        }
        if (result.status === 409) {
          showConflict(answer);
          return false;
        }
        throw new SaveProblem((answer.error || '保存失败') + '。您的修改仍在本页。');
      })
      .catch((error) => {
        const message = error instanceof SaveProblem ? error.message
          : '网络不通,草稿没有保存。您的修改仍在本页;恢复网络后会自动再保存。';
        setStatus(message, 'error');
        if (!(error instanceof SaveProblem)) {
          saveTimer = window.setTimeout(() => { save(); }, 10000);
        }
        return false;
      })
      .then((ok) => {
        state.saving = null;
        saveBtn.disabled = false;
        if (state.saveAgain) {
          const again = state.againAction;
          state.saveAgain = false;
          state.againAction = '';
          if (ok && state.dirty) {
            return save(undefined, again);
          }
        }
        return ok;
      });
    return state.saving;
  }

  function showConflict(answer) {
    state.conflict = answer;
    window.clearTimeout(saveTimer);
    let text = answer.error || '草稿已被其他人修改。';
    if (answer.revision) {
      text += ' 最新的草稿是第 ' + answer.revision + ' 次保存' +
        (answer.user ? '(' + answer.user + (answer.saved_at ? ',' + clock(answer.saved_at) : '') + ')' : '') + '。';
    }
    conflictMsg.textContent = text + ' 您的修改仍在本页,没有保存。';
    conflictBox.hidden = false;
    setStatus('没有保存:草稿已被其他人修改', 'error');
    updatePublish();
  }

  // ---- actions ---------------------------------------------------------------------------------

  function moveField(list, from, to) {
    const [field] = list.splice(from, 1);
    list.splice(to, 0, field);
  }

  function expand(u, open) {
    state.expanded[u] = open;
    const toggle = document.getElementById('bf-' + u + '-toggle');
    const body = document.getElementById('bf-' + u + '-body');
    if (toggle && body) {
      toggle.setAttribute('aria-expanded', String(open));
      body.hidden = !open;
    }
  }

  function addField(scope, type) {
    const field = newField(type, scope);
    scope.list.push(field);
    state.expanded[uid(field)] = true;
    render();
    const label = document.getElementById('bf-' + uid(field) + '-label');
    if (label) {
      label.focus();
      label.select();
    }
    announce('已添加第 ' + scope.list.length + ' 项:' + TYPES[type]);
    edited();
  }

  function cardInfo(node) {
    const card = node.closest('[data-uid]');
    return card ? registry[card.getAttribute('data-uid')] : null;
  }

  root.addEventListener('click', (event) => {
    const button = event.target.closest('[data-action], [data-add], [data-overwrite], [data-reload], [data-tab]');
    if (!button || !root.contains(button)) {
      return;
    }
    if (button.hasAttribute('data-tab')) {
      showTab(button.getAttribute('data-tab'));
      return;
    }
    if (button.hasAttribute('data-add')) {
      addField({list: state.model.fields, parent: null}, addType.value);
      return;
    }
    if (button.hasAttribute('data-overwrite')) {
      if (window.confirm('用您的内容覆盖最新的草稿吗?对方保存的修改将丢失。')) {
        save(state.conflict ? state.conflict.revision : state.revision, 'save');
      }
      return;
    }
    if (button.hasAttribute('data-reload')) {
      leaving = true;
      return;
    }
    const action = button.getAttribute('data-action');
    if (action === 'jump') {
      const card = document.getElementById(button.getAttribute('data-target'));
      if (card) {
        const u = card.getAttribute('data-uid');
        expand(u, true);
        card.scrollIntoView({block: 'start'});
        const toggle = document.getElementById('bf-' + u + '-toggle');
        if (toggle) {
          toggle.focus({preventScroll: true});
        }
      }
      return;
    }
    const info = cardInfo(button);
    if (!info) {
      return;
    }
    const u = uid(info.field);
    const list = info.scope.list;
    if (action === 'toggle') {
      expand(u, !state.expanded[u]);
    } else if (action === 'up' || action === 'down') {
      const to = info.index + (action === 'up' ? -1 : 1);
      if (to < 0 || to >= list.length) {
        return;
      }
      moveField(list, info.index, to);
      render();
      const again = document.getElementById('bf-' + u + '-' + action);
      const other = document.getElementById('bf-' + u + '-' + (action === 'up' ? 'down' : 'up'));
      (again && !again.disabled ? again : other).focus();
      announce('已移到第 ' + (to + 1) + ' 项');
      edited();
    } else if (action === 'remove') {
      const title = info.field.label || info.field.name || '';
      const published = publishedNames(info.scope).indexOf(committedNames.get(info.field)) >= 0;
      if (!window.confirm('删除「' + title + '」吗?' + (published ? '已提交的答案不会删除,导出时仍在原来的列。' : ''))) {
        return;
      }
      list.splice(info.index, 1);
      render();
      const next = list[Math.min(info.index, list.length - 1)];
      const focus = next ? document.getElementById('bf-' + uid(next) + '-toggle') : addType;
      if (focus) {
        focus.focus();
      }
      announce('已删除「' + title + '」');
      edited();
    } else if (action === 'add-sub') {
      const typeSelect = document.getElementById('bf-' + u + '-addtype');
      addField({list: info.field.fields, parent: info.field}, typeSelect ? typeSelect.value : 'text');
    }
  });

  function onFormKey(node) {
    const key = node.getAttribute('data-key').slice(5);
    if (key === 'stage') {
      setOrDelete(state.model, key, node.value.trim() ? node.value : undefined);
    } else {
      state.model[key] = node.value; // title and description are required keys
    }
    edited();
  }

  // Text typed into a card: the model follows at once (a name only when committed: "change").
  root.addEventListener('input', (event) => {
    const node = event.target;
    if (node === jsonBox) {
      jsonError.hidden = true;
      edited();
      return;
    }
    const key = node.getAttribute && node.getAttribute('data-key');
    if (!key || node.tagName === 'SELECT' || node.type === 'checkbox') {
      return;
    }
    if (key.indexOf('form.') === 0) {
      onFormKey(node);
      return;
    }
    const info = cardInfo(node);
    if (!info || key === 'name') {
      return;
    }
    const field = info.field;
    const value = node.value;
    if (key === 'label') {
      field.label = value;
      const id = 'bf-' + uid(field);
      const title = document.querySelector('#' + id + ' > .bf-card-head [data-title]');
      if (title) {
        title.textContent = value || '(未填标题)';
      }
      [['up', '上移:'], ['down', '下移:'], ['drag', '拖动排序:']].forEach(([what, text]) => {
        const button = document.getElementById(id + '-' + what);
        if (button) {
          button.setAttribute('aria-label', text + (value || '(未填标题)'));
        }
      });
    } else if (key === 'hint' || key === 'unit' || key === 'pattern' || key === 'pattern_message') {
      setOrDelete(field, key, value.trim() ? value : undefined);
    } else if (key === 'min' || key === 'max') {
      if (field.type === 'date' || field.type === 'month') {
        setOrDelete(field, key, value.trim() || undefined);
      } else {
        setOrDelete(field, key, numberValue(value, field.type !== 'decimal'));
      }
    } else if (key === 'min_length' || key === 'max_length' || key === 'min_items' || key === 'max_items') {
      setOrDelete(field, key, numberValue(value, true));
    } else if (key === 'choices') {
      const choices = parseChoices(value);
      setOrDelete(field, key, choices.length ? choices : undefined);
    } else if (key === 'show_if.equals' && field.show_if) {
      const target = info.scope.list.find((f) => f.name === field.show_if.field);
      field.show_if.equals = conditionValue(target, value);
    } else {
      return;
    }
    edited();
  });

  // Choices made (selects, boxes) and text committed: the model follows, and cards that show
  // something of it (names, labels, choices in conditions) are drawn again.
  root.addEventListener('change', (event) => {
    const node = event.target;
    const key = node.getAttribute && node.getAttribute('data-key');
    if (!key || key.indexOf('form.') === 0 || key === 'add-sub-type') {
      return;
    }
    const info = cardInfo(node);
    if (!info) {
      return;
    }
    const field = info.field;
    const scope = info.scope;
    if (key === 'name') {
      const name = node.value.trim();
      const before = committedNames.get(field);
      rename(field, scope, name);
      if (before !== name && formerNames(field).indexOf(before) >= 0) {
        announce('已记录曾用名 ' + before);
      }
    } else if (key === 'type') {
      if (!changeType(field, node.value, node)) {
        return;
      }
    } else if (key === 'required') {
      setOrDelete(field, 'required', node.checked ? true : undefined);
      edited();
      return;
    } else if (key === 'show_if.field') {
      if (!node.value) {
        delete field.show_if;
      } else {
        const target = scope.list.find((f) => f.name === node.value);
        field.show_if = {field: node.value, equals: target ? defaultCondition(target) : ''};
      }
    } else if (key === 'show_if.equals' && field.show_if && node.tagName === 'SELECT') {
      const target = scope.list.find((f) => f.name === field.show_if.field);
      field.show_if.equals = conditionValue(target, node.value);
      edited();
      return;
    } else if (key === 'show_if.many' && field.show_if) {
      if (node.checked) {
        const first = field.show_if.equals;
        field.show_if = {field: field.show_if.field, in: first === undefined ? [] : [first]};
      } else {
        const first = (field.show_if.in || [])[0];
        field.show_if = {field: field.show_if.field, equals: first === undefined ? '' : first};
      }
    } else if (key === 'show_if.in' && field.show_if) {
      const picked = [];
      node.closest('fieldset').querySelectorAll('input[data-key="show_if.in"]').forEach((box) => {
        if (box.checked) {
          picked.push(box.value);
        }
      });
      field.show_if.in = picked;
      edited();
      return;
    } else if (key !== 'label' && key !== 'choices') {
      return;
    }
    renderSoon();
    edited();
  });

  // ---- drag to reorder (pointer events: mouse, touch and pen) --------------------------------

  root.addEventListener('pointerdown', (event) => {
    const handle = event.target.closest('.bf-handle');
    if (!handle || (event.pointerType === 'mouse' && event.button !== 0)) {
      return;
    }
    const card = handle.closest('.bf-card');
    const list = card.parentElement;
    const info = registry[card.getAttribute('data-uid')];
    if (!info || info.scope.list.length < 2) {
      return;
    }
    event.preventDefault();
    const pointer = event.pointerId;
    card.classList.add('bf-dragging');
    const cards = () => Array.prototype.filter.call(list.children, (c) => c.classList.contains('bf-card'));

    // Listened to on the document, not the handle: moving the card in the list (as the
    // finger moves) takes the pointer capture away from the handle.
    function move(e) {
      if (e.pointerId !== pointer) {
        return;
      }
      e.preventDefault();
      const others = cards().filter((c) => c !== card);
      let before = null;
      for (const other of others) {
        const box = other.getBoundingClientRect();
        if (e.clientY < box.top + box.height / 2) {
          before = other;
          break;
        }
      }
      if (before !== card.nextElementSibling && before !== card) {
        list.insertBefore(card, before);
      }
      if (e.clientY < 48) {
        window.scrollBy(0, -16);
      } else if (e.clientY > window.innerHeight - 48) {
        window.scrollBy(0, 16);
      }
    }

    function end(e) {
      if (e.pointerId !== pointer) {
        return;
      }
      document.removeEventListener('pointermove', move);
      document.removeEventListener('pointerup', end);
      document.removeEventListener('pointercancel', end);
      card.classList.remove('bf-dragging');
      const to = e.type === 'pointercancel' ? info.index : cards().indexOf(card);
      render();
      if (to !== info.index && to >= 0) {
        moveField(info.scope.list, info.index, to);
        render();
        announce('已移到第 ' + (to + 1) + ' 项');
        edited();
      }
      const again = document.getElementById(handle.id);
      if (again) {
        again.focus({preventScroll: true});
      }
    }

    document.addEventListener('pointermove', move);
    document.addEventListener('pointerup', end);
    document.addEventListener('pointercancel', end);
  });

  root.addEventListener('keydown', (event) => {
    const handle = event.target.closest && event.target.closest('.bf-handle');
    if (handle && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      event.preventDefault();
      const button = document.getElementById(handle.id.replace(/-drag$/, event.key === 'ArrowUp' ? '-up' : '-down'));
      if (button && !button.disabled) {
        button.click();
        const again = document.getElementById(handle.id);
        if (again) {
          again.focus();
        }
      }
      return;
    }
    const tab = event.target.closest && event.target.closest('[role=tab]');
    if (tab && (event.key === 'ArrowLeft' || event.key === 'ArrowRight' || event.key === 'Home' || event.key === 'End')) {
      event.preventDefault();
      const next = tab.getAttribute('data-tab') === 'fields' ? 'json' : 'fields';
      if (showTab(next)) {
        document.getElementById('bf-tab-' + next).focus();
      }
    }
  });

  // ---- tabs ------------------------------------------------------------------------------------

  function setTab(tab) {
    state.tab = tab;
    root.querySelectorAll('[data-tab]').forEach((button) => {
      const on = button.getAttribute('data-tab') === tab;
      button.setAttribute('aria-selected', String(on));
      button.tabIndex = on ? 0 : -1;
    });
    root.querySelectorAll('[data-panel]').forEach((panel) => {
      panel.hidden = panel.getAttribute('data-panel') !== tab;
    });
  }

  function showTab(tab) {
    if (tab === state.tab) {
      return true;
    }
    if (tab === 'fields') {
      if (!state.model || jsonBox.value !== state.jsonOfModel) {
        const parsed = parseModel(jsonBox.value);
        if (parsed.error) {
          jsonError.textContent = parsed.error;
          jsonError.hidden = false;
          jsonBox.focus();
          return false;
        }
        state.model = parsed.model;
      }
      jsonError.hidden = true;
      setTab('fields');
      render();
      setProblems(state.problems);
    } else {
      state.jsonOfModel = modelText();
      jsonBox.value = state.jsonOfModel;
      setTab('json');
      setProblems(state.problems);
    }
    return true;
  }

  // ---- the save form: 保存草稿 and 发布 ----------------------------------------------------------

  let publishing = false;
  publishBtn.addEventListener('click', () => { publishing = true; });
  saveBtn.addEventListener('click', () => { publishing = false; });

  saveForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const toPublish = publishing;
    publishing = false;
    if (state.tab === 'fields' && state.model) {
      jsonBox.value = modelText();
      state.jsonOfModel = jsonBox.value;
    }
    const needed = state.dirty || state.revision === 0 || !toPublish;
    (needed ? save(undefined, toPublish ? 'publish' : 'save') : Promise.resolve(true)).then((ok) => {
      if (!ok || !toPublish) {
        return;
      }
      if (state.problems.length) {
        setStatus('草稿已保存,但有错误,不能发布。', 'error');
        problemsBox.scrollIntoView({block: 'center'});
        return;
      }
      leaving = true;
      window.location.href = PUBLISH_URL;
    });
  });

  window.addEventListener('beforeunload', (event) => {
    if ((state.dirty || state.conflict) && !leaving) {
      event.preventDefault();
      event.returnValue = '';
    }
  });

  // ---- start ---------------------------------------------------------------------------------

  q('[data-tabs]').hidden = false;
  frame.addEventListener('load', previewLoaded);
  const initial = parseModel(jsonBox.value);
  if (initial.error) {
    setTab('json');
    jsonError.textContent = initial.error;
    jsonError.hidden = false;
  } else {
    state.model = initial.model;
    setTab('fields');
    render();
  }
  state.savedText = currentText();
  state.previewedText = currentText();
  setProblems(data('initial-problems'));
  setStatus(state.revision ? '草稿已保存(第 ' + state.revision + ' 次)' : '尚未保存为草稿');
  if (frame.contentDocument && frame.contentDocument.readyState === 'complete') {
    previewLoaded();
  }
})();
