/*
 * Model pages: copy buttons, the way back to the gallery as it was left, your favourite, tags,
 * notes and preferred weight (kept in this browser, see common.js), long descriptions folded,
 * and the image viewer (keyboard, swipe, a strip of every image, full screen, generation
 * parameters with copy). Library text is never parsed as HTML: the viewer shows clones of the
 * page's own parameter blocks, and what you type is only ever set as text.
 * A classic script after common.js (pages opened from file:// cannot load module scripts).
 */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var common = window.CSCommon;
  if (!common) return;

  Array.prototype.forEach.call(document.querySelectorAll('[data-js-only]'), function (node) { node.hidden = false; });
  document.documentElement.classList.add('js');

  var storage = common.storage;

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

  document.addEventListener('click', function (event) {
    var button = event.target && event.target.closest ? event.target.closest('[data-copy]') : null;
    if (!button) return;
    event.preventDefault();
    common.copyWithFeedback(button.getAttribute('data-copy') || '', button, status);
  });

  // ------------------------------------------------------------ yours: favourite, tags, notes, weight

  var personal = common.personal;
  var favourite = $('favourite');
  var modelId = favourite ? favourite.getAttribute('data-model-id') : '';
  var usageLine = $('usage-line');
  var usageCopy = $('usage-copy');
  var weightInput = $('weight-input');
  var noteInput = $('note-input');
  var tagList = $('my-tags');
  var saved = $('personal-saved');

  function formatWeight(weight) {
    var value = typeof weight === 'number' && isFinite(weight) ? weight : 1;
    return String(Math.round(value * 100) / 100);
  }

  /** The sidecars' preferred weight (A1111 / ComfyUI-Lora-Manager), under yours and the curation file's. */
  var defaultWeight = usageLine && usageLine.getAttribute('data-default-weight') ? Number(usageLine.getAttribute('data-default-weight')) : undefined;
  var resetButton = $('personal-reset');

  function weightOf(entry) {
    if (typeof entry.weight === 'number') return entry.weight;
    return typeof defaultWeight === 'number' && isFinite(defaultWeight) ? defaultWeight : 1;
  }

  function usageText(entry) {
    if (!usageLine) return '';
    var stem = usageLine.getAttribute('data-usage-stem') || '';
    return usageLine.getAttribute('data-usage-kind') === 'lora' ? '<lora:' + stem + ':' + formatWeight(weightOf(entry)) + '>' : usageLine.textContent;
  }

  function paintPersonal() {
    if (!modelId) return;
    var entry = personal.get(modelId);
    favourite.setAttribute('aria-pressed', entry.favourite ? 'true' : 'false');
    if (usageLine && usageLine.getAttribute('data-usage-kind') === 'lora') {
      var text = usageText(entry);
      usageLine.textContent = text;
      if (usageCopy) usageCopy.setAttribute('data-copy', text);
    }
    if (weightInput && document.activeElement !== weightInput) weightInput.value = formatWeight(weightOf(entry));
    if (resetButton) resetButton.hidden = !personal.changed(modelId);
    if (noteInput && document.activeElement !== noteInput) noteInput.value = entry.note || '';
    if (tagList) {
      var fragment = document.createDocumentFragment();
      (entry.tags || []).forEach(function (tag) {
        var item = document.createElement('li');
        item.className = 'chip';
        var label = document.createElement('span');
        label.textContent = tag;
        item.appendChild(label);
        var remove = document.createElement('button');
        remove.type = 'button';
        remove.textContent = '×';
        remove.setAttribute('aria-label', 'Remove tag ' + tag);
        remove.addEventListener('click', function () {
          personal.update(modelId, function (next) {
            next.tags = (next.tags || []).filter(function (other) { return other !== tag; });
          });
          var input = $('tag-input');
          if (input) input.focus();
        });
        item.appendChild(remove);
        fragment.appendChild(item);
      });
      tagList.replaceChildren(fragment);
    }
  }

  function note(text) {
    if (!saved) return;
    saved.textContent = text;
  }

  if (modelId) {
    favourite.addEventListener('click', function () {
      var on = favourite.getAttribute('aria-pressed') !== 'true';
      personal.update(modelId, function (entry) {
        if (on) entry.favourite = true;
        else delete entry.favourite;
      });
    });
    var tagForm = $('tag-form');
    if (tagForm) {
      tagForm.addEventListener('submit', function (event) {
        event.preventDefault();
        var input = $('tag-input');
        var tags = common.cleanTags(input.value.split(','));
        if (!tags.length) return;
        personal.update(modelId, function (entry) { entry.tags = common.cleanTags((entry.tags || []).concat(tags)); });
        input.value = '';
        note('Tag saved');
      });
    }
    if (noteInput) {
      var noteTimer = null;
      var saveNote = function () {
        clearTimeout(noteTimer);
        noteTimer = null;
        var text = noteInput.value;
        personal.update(modelId, function (entry) {
          if (text.trim()) entry.note = text;
          else delete entry.note;
        });
        note(personal.persistent ? 'Notes saved in this browser' : 'This browser keeps nothing for this page: the notes last until it is closed');
      };
      noteInput.addEventListener('input', function () {
        clearTimeout(noteTimer);
        noteTimer = setTimeout(saveNote, 400);
      });
      noteInput.addEventListener('blur', function () { if (noteTimer) saveNote(); });
      window.addEventListener('pagehide', function () { if (noteTimer) saveNote(); });
    }
    if (weightInput) {
      weightInput.addEventListener('change', function () {
        var value = Number(weightInput.value);
        if (!isFinite(value) || weightInput.value === '') return;
        personal.update(modelId, function (entry) {
          if (value === 1) delete entry.weight;
          else entry.weight = value;
        });
      });
    }
    if (resetButton) {
      resetButton.addEventListener('click', function () {
        personal.reset(modelId);
        note('Back to the curation file’s values');
        favourite.focus();
      });
    }
    personal.onChange(paintPersonal);
    paintPersonal();
  }

  // ------------------------------------------------------------ long descriptions

  var box = $('description-box');
  var body = $('description-body');
  if (box && body && body.scrollHeight > 560) {
    box.classList.add('collapsible');
    var toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'button description-more';
    toggle.setAttribute('aria-controls', 'description-body');
    toggle.setAttribute('aria-expanded', 'false');
    toggle.textContent = 'Show more';
    toggle.addEventListener('click', function () {
      var open = !box.classList.contains('expanded');
      box.classList.toggle('expanded', open);
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
      toggle.textContent = open ? 'Show less' : 'Show more';
      if (!open) box.scrollIntoView({ block: 'nearest' });
    });
    box.appendChild(toggle);
  }

  // ------------------------------------------------------------ image viewer

  var dialog = $('lightbox');
  var shots = Array.prototype.slice.call(document.querySelectorAll('#shots .shot'));
  if (!dialog || !shots.length || typeof dialog.showModal !== 'function') return;
  var stage = $('lb-stage');
  var info = $('lb-info');
  var counter = $('lb-counter');
  var strip = $('lb-strip');
  var fullscreenButton = $('lb-fullscreen');
  var current = 0;
  var opener = null;

  // The strip: every image as a small button; the current one is marked.
  var thumbs = shots.map(function (shot, i) {
    var link = shotLink(i);
    var button = document.createElement('button');
    button.type = 'button';
    button.className = 'lb-thumb';
    var isVideo = link && link.getAttribute('data-type') === 'video';
    button.setAttribute('aria-label', (isVideo ? 'Video ' : 'Image ') + (i + 1) + ' of ' + shots.length);
    var picture = shot.querySelector('.shot-link img');
    if (picture) {
      var img = document.createElement('img');
      img.alt = '';
      img.loading = 'lazy';
      img.decoding = 'async';
      img.src = picture.getAttribute('src');
      button.appendChild(img);
    } else {
      button.appendChild(document.createTextNode(String(i + 1)));
    }
    if (isVideo) {
      var play = document.createElement('span');
      play.className = 'lb-thumb-play';
      play.setAttribute('aria-hidden', 'true');
      play.textContent = '▶';
      button.appendChild(play);
    }
    button.addEventListener('click', function () { show(i); });
    if (strip) strip.appendChild(button);
    return button;
  });
  if (strip && shots.length < 2) strip.hidden = true;

  function unplayable(link) {
    var box = document.createElement('div');
    box.className = 'lb-unplayable';
    var text = document.createElement('p');
    text.textContent = 'This video cannot be played in this browser (its format or codec is not supported, or the file is missing).';
    box.appendChild(text);
    var open = document.createElement('a');
    open.href = link.getAttribute('href');
    open.textContent = 'Open the video file';
    open.setAttribute('download', '');
    box.appendChild(open);
    return box;
  }

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
      var videoLink = link;
      media.addEventListener('error', function () {
        var video = stage.querySelector('video');
        if (video) video.replaceWith(unplayable(videoLink));
      });
      media.src = link.getAttribute('href');
      if (typeof media.canPlayType === 'function') {
        var ext = (link.getAttribute('href').match(/\.([a-z0-9]+)$/i) || [])[1] || '';
        var types = { mp4: 'video/mp4', webm: 'video/webm', mov: 'video/quicktime', m4v: 'video/mp4', mkv: 'video/x-matroska' };
        if (types[ext.toLowerCase()] && media.canPlayType(types[ext.toLowerCase()]) === '') media = unplayable(link);
      }
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
    thumbs.forEach(function (thumb, k) {
      if (k === current) thumb.setAttribute('aria-current', 'true');
      else thumb.removeAttribute('aria-current');
      thumb.classList.toggle('blurred', isHidden(k));
    });
    if (thumbs[current] && thumbs[current].scrollIntoView) thumbs[current].scrollIntoView({ block: 'nearest', inline: 'nearest' });
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
    if (document.fullscreenElement) document.exitFullscreen().catch(function () {});
    if (dialog.open) dialog.close();
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(function () {});
    else if (dialog.requestFullscreen) dialog.requestFullscreen().catch(function () {});
  }
  if (fullscreenButton) {
    if (!dialog.requestFullscreen) fullscreenButton.hidden = true;
    fullscreenButton.addEventListener('click', toggleFullscreen);
    document.addEventListener('fullscreenchange', function () {
      fullscreenButton.setAttribute('aria-pressed', document.fullscreenElement ? 'true' : 'false');
      fullscreenButton.setAttribute('aria-label', document.fullscreenElement ? 'Leave full screen' : 'Full screen');
    });
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
      toggleFullscreen();
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
