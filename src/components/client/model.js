/*
 * Model pages: copy buttons, the way back to the gallery as it was left, and the image viewer
 * (keyboard, swipe, generation parameters with copy). Library text is never parsed as HTML: the
 * viewer shows clones of the page's own parameter blocks.
 * A classic script (pages opened from file:// cannot load module scripts).
 */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };

  Array.prototype.forEach.call(document.querySelectorAll('[data-js-only]'), function (node) { node.hidden = false; });
  document.documentElement.classList.add('js');

  function storage(kind) {
    try {
      return window[kind];
    } catch (error) {
      return null;
    }
  }

  // ------------------------------------------------------------ back to the gallery

  var session = storage('sessionStorage');
  var savedHash = session ? session.getItem('cs.gallery.hash') : null;
  Array.prototype.forEach.call(document.querySelectorAll('[data-back]'), function (link) {
    if (savedHash) link.setAttribute('href', link.getAttribute('href').split('#')[0] + '#' + savedHash);
  });
  var local = storage('localStorage');
  if (local && local.getItem('cs.showNsfw') === '1') document.documentElement.classList.add('show-nsfw');

  // ------------------------------------------------------------ copy

  var status = $('copy-status');

  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (error) {
      ok = false;
    }
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error('copy refused'));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  document.addEventListener('click', function (event) {
    var button = event.target && event.target.closest ? event.target.closest('[data-copy]') : null;
    if (!button) return;
    event.preventDefault();
    var text = button.getAttribute('data-copy') || '';
    copy(text).then(
      function () { feedback(button, true); },
      function () { feedback(button, false); },
    );
  });

  function feedback(button, ok) {
    button.classList.remove('copied', 'copy-failed');
    button.classList.add(ok ? 'copied' : 'copy-failed');
    if (status) status.textContent = ok ? 'Copied to the clipboard' : 'Copy failed: select the text instead';
    clearTimeout(button.__copyTimer);
    button.__copyTimer = setTimeout(function () {
      button.classList.remove('copied', 'copy-failed');
    }, 1600);
  }

  // ------------------------------------------------------------ image viewer

  var dialog = $('lightbox');
  var shots = Array.prototype.slice.call(document.querySelectorAll('#shots .shot'));
  if (!dialog || !shots.length || typeof dialog.showModal !== 'function') return;
  var stage = $('lb-stage');
  var info = $('lb-info');
  var counter = $('lb-counter');
  var current = 0;
  var opener = null;

  function shotLink(i) {
    return shots[i].querySelector('.shot-link');
  }

  function isHidden(i) {
    var media = shots[i].querySelector('.shot-media');
    if (!media || !media.classList.contains('blurred')) return false;
    if (document.documentElement.classList.contains('show-nsfw')) return false;
    var box = media.querySelector('.reveal input');
    return !(box && box.checked);
  }

  function show(i) {
    current = (i + shots.length) % shots.length;
    var link = shotLink(current);
    var media;
    if (link && link.getAttribute('data-type') === 'video') {
      media = document.createElement('video');
      media.controls = true;
      media.muted = true;
      media.loop = true;
      media.autoplay = true;
      media.playsInline = true;
      var poster = link.getAttribute('data-poster');
      if (poster) media.poster = poster;
      media.src = link.getAttribute('href');
    } else if (link) {
      media = document.createElement('img');
      // A dragged image would cancel the swipe.
      media.draggable = false;
      media.alt = 'Image ' + (current + 1) + ' of ' + shots.length;
      media.src = link.getAttribute('href');
    } else {
      media = document.createElement('p');
      media.className = 'no-preview';
      media.textContent = 'This preview could not be shown.';
    }
    stage.replaceChildren(media);
    stage.classList.toggle('blurred', isHidden(current));
    if (isHidden(current)) {
      var reveal = document.createElement('button');
      reveal.type = 'button';
      reveal.className = 'button lb-reveal';
      reveal.textContent = 'NSFW · show';
      reveal.addEventListener('click', function () {
        var box = shots[current].querySelector('.reveal input');
        if (box) box.checked = true;
        stage.classList.remove('blurred');
        reveal.remove();
      });
      stage.appendChild(reveal);
    }
    var params = shots[current].querySelector('.params');
    if (params) {
      var clone = params.cloneNode(true);
      Array.prototype.forEach.call(clone.querySelectorAll('[id]'), function (node) { node.removeAttribute('id'); });
      info.replaceChildren(clone);
    } else {
      var none = document.createElement('p');
      none.className = 'muted';
      none.textContent = 'No generation parameters for this image.';
      info.replaceChildren(none);
    }
    counter.textContent = current + 1 + ' / ' + shots.length;
    // Neighbours load while this one is looked at.
    [current + 1, current - 1].forEach(function (k) {
      var next = shotLink((k + shots.length) % shots.length);
      if (next && next.getAttribute('data-type') !== 'video') new Image().src = next.getAttribute('href');
    });
  }

  function open(i, from) {
    opener = from || document.activeElement;
    dialog.hidden = false;
    dialog.showModal();
    show(i);
    $('lb-close').focus();
  }

  function close() {
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener('close', function () {
    stage.replaceChildren();
    dialog.hidden = true;
    if (opener && opener.focus) opener.focus();
  });

  shots.forEach(function (_shot, i) {
    var link = shotLink(i);
    if (!link) return;
    link.addEventListener('click', function (event) {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      open(i, link);
    });
  });
  $('lb-prev').addEventListener('click', function () { show(current - 1); });
  $('lb-next').addEventListener('click', function () { show(current + 1); });
  $('lb-close').addEventListener('click', close);
  dialog.addEventListener('click', function (event) {
    // A click on the backdrop (the dialog itself, outside the frame) closes.
    if (event.target === dialog) close();
  });
  // On the document: the focused element may have been inside the part of the viewer that was
  // just replaced.
  document.addEventListener('keydown', function (event) {
    if (!dialog.open) return;
    var target = event.target;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
    if (event.key === 'ArrowLeft') {
      event.preventDefault();
      show(current - 1);
    } else if (event.key === 'ArrowRight') {
      event.preventDefault();
      show(current + 1);
    } else if (event.key === 'Home') {
      event.preventDefault();
      show(0);
    } else if (event.key === 'End') {
      event.preventDefault();
      show(shots.length - 1);
    } else if ((event.key === 'f' || event.key === 'F') && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      if (document.fullscreenElement) document.exitFullscreen();
      else if (dialog.requestFullscreen) dialog.requestFullscreen().catch(function () {});
    }
  });

  // Swipe left / right on touch screens.
  var startX = null;
  var startY = 0;
  stage.addEventListener('pointerdown', function (event) {
    startX = event.clientX;
    startY = event.clientY;
  });
  stage.addEventListener('pointerup', function (event) {
    if (startX === null) return;
    var dx = event.clientX - startX;
    var dy = event.clientY - startY;
    startX = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(dy) * 1.5) show(current + (dx < 0 ? 1 : -1));
  });
  stage.addEventListener('pointercancel', function () { startX = null; });
})();
