/* Receipt page: forget the fill this receipt is for (the form page kept it until now, in case
 * this page did not load) — under the QR page's key (form/org) or the correction page's
 * (fix/<receipt>) — and a button that copies the private receipt link. */
(function () {
  'use strict';
  var box = document.querySelector('[data-receipt]');
  if (box) {
    ['data-draft-key', 'data-fix-draft-key'].forEach(function (name) {
      var key = box.getAttribute(name) && 'taizhang:draft:' + box.getAttribute(name);
      try {
        var kept = key && JSON.parse(window.localStorage.getItem(key) || 'null');
        if (kept && kept.sent && kept.sent.receipt === box.getAttribute('data-receipt')) {
          window.localStorage.removeItem(key);
        }
      } catch (e) { /* no storage: nothing kept */ }
    });
  }

  var button = document.querySelector('[data-copy]');
  if (!button || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener('click', function () {
    navigator.clipboard.writeText(button.getAttribute('data-copy')).then(function () {
      button.textContent = '已复制';
    }, function () {
      button.textContent = '复制失败，请长按链接复制';
    });
  });
})();
