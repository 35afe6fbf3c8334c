/* Receipt page: forget the fill this receipt is for (the form page kept it until now, in case
 * this page did not load), and a button that copies the private receipt link. */
(function () {
  'use strict';
  var box = document.querySelector('[data-receipt]');
  var key = box && 'taizhang:draft:' + box.getAttribute('data-draft-key');
  try {
    var kept = key && JSON.parse(window.localStorage.getItem(key) || 'null');
    if (kept && kept.sent && kept.sent.receipt === box.getAttribute('data-receipt')) {
      window.localStorage.removeItem(key);
    }
  } catch (e) { /* no storage: nothing kept */ }

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
