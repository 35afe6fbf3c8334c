/* Receipt page: a button that copies the private receipt link (where the browser allows). */
(function () {
  'use strict';
  var button = document.querySelector('[data-copy]');
  if (!button || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener('click', function () {
    navigator.clipboard.writeText(button.getAttribute('data-copy')).then(function () {
      button.textContent = '已复制';
    }, function () {
      button.textContent = '复制失败,请长按链接复制';
    });
  });
})();
