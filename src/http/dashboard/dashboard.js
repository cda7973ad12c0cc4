// The dashboard's script: one file, served from /dashboard/assets/. Pages work without it; it adds
// keyboard shortcuts (elements with data-shortcut="key" are clicked on that key), confirmation for
// forms with data-confirm, and keeps the dashboard session alive while the page is in use.
(function () {
  'use strict';
  var csrf = document.body && document.body.getAttribute('data-csrf');

  function typing(target) {
    var tag = target && target.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable);
  }

  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    var el = document.querySelector('[data-shortcut="' + key + '"]');
    if (el && !el.disabled) { e.preventDefault(); el.focus(); el.click(); }
  });

  document.addEventListener('submit', function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) e.preventDefault();
  });

  // Extend the 8 h dashboard session at most every 10 minutes while the reviewer is active.
  if (csrf) {
    var last = Date.now();
    ['keydown', 'click'].forEach(function (type) {
      document.addEventListener(type, function () {
        if (Date.now() - last < 10 * 60 * 1000) return;
        last = Date.now();
        fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' });
      });
    });
  }
})();
