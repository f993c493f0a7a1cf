// playground.js starts GraphiQL with the settings that the server wrote into
// the page as JSON (#playground-config). It is a file of its own, not an
// inline script, so that the page's Content-Security-Policy can forbid inline
// scripts, and the settings arrive as data, never as code.
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var defaultHeaders = config.defaultHeaders || '';

  // GraphiQL's dialogs add a <style> element (react-remove-scroll) and stamp
  // it with this global, as bundlers do; the page's Content-Security-Policy
  // admits styles with this response's nonce and no other inline style.
  window.__webpack_nonce__ = config.styleNonce;

  // Where GraphiQL 3.9 keeps lists that carry headers in localStorage: its
  // tabs, its history and the favourites, each a JSON document with the list
  // under the given name.
  var LISTS = {
    'graphiql:tabState': 'tabs',
    'graphiql:queries': 'queries',
    'graphiql:favorites': 'favorites',
  };

  // headerFreeStorage wraps localStorage so that no header, and so no token,
  // is ever written to the disk. shouldPersistHeaders: false alone does not
  // do that: GraphiQL 3.9 drops the headers from its tabs, but its history
  // and favourites keep each run's headers. This storage writes every list
  // entry with "headers": null, the value GraphiQL itself uses for "none".
  //
  // Read back, history and favourite entries get the default headers: a
  // click on one sets the headers editor to the entry's headers, and would
  // otherwise empty it. Tabs need no such help, as GraphiQL shows the
  // default headers for a tab that has none.
  function headerFreeStorage() {
    var ls;
    try {
      ls = window.localStorage;
      ls.getItem('graphiql:tabState');
    } catch (e) {
      return null; // storage is disabled: GraphiQL then keeps nothing
    }
    return {
      getItem: function (key) {
        var value = ls.getItem(key);
        if (key === 'graphiql:tabState') {
          return value;
        }
        return mapList(key, value, function (entry) {
          if (!entry.headers) {
            entry.headers = defaultHeaders || null;
          }
        });
      },
      setItem: function (key, value) {
        if (key === 'graphiql:headers') {
          return; // GraphiQL keeps the headers editor here only to persist headers
        }
        ls.setItem(key, mapList(key, value, function (entry) {
          entry.headers = null;
        }));
      },
      removeItem: function (key) {
        ls.removeItem(key);
      },
      clear: function () {
        graphiqlKeys().forEach(function (key) {
          ls.removeItem(key);
        });
      },
      get length() {
        return graphiqlKeys().length;
      },
    };

    function graphiqlKeys() {
      var keys = [];
      for (var i = 0; i < ls.length; i++) {
        var key = ls.key(i);
        if (key && key.indexOf('graphiql:') === 0) {
          keys.push(key);
        }
      }
      return keys;
    }
  }

  // mapList calls fn(entry) for each entry of the stored list under key and
  // returns the changed JSON. A value that is not such a list comes back
  // unchanged, for GraphiQL to judge.
  function mapList(key, value, fn) {
    var name = LISTS[key];
    if (!name || !value) {
      return value;
    }
    try {
      var doc = JSON.parse(value);
      if (doc && Array.isArray(doc[name])) {
        doc[name].forEach(function (entry) {
          if (entry && typeof entry === 'object') {
            fn(entry);
          }
        });
        return JSON.stringify(doc);
      }
    } catch (e) {
      // not JSON: leave it to GraphiQL
    }
    return value;
  }

  // operationOf returns the operation of params that runs, or null. An operation name that the
  // document does not hold (GraphiQL may still send the one of the text before a paste) is
  // dropped when the document holds one operation only.
  function operationOf(params) {
    try {
      var doc = GraphiQL.GraphQL.parse(params.query);
      var ops = doc.definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
      var named = ops.find(function (d) { return d.name && d.name.value === params.operationName; });
      if (!named && ops.length === 1) {
        params.operationName = ops[0].name ? ops[0].name.value : undefined;
        return ops[0];
      }
      return named || null;
    } catch (e) {
      return null; // the server says what is wrong with it
    }
  }

  // subscribe runs a subscription over server-sent events (GraphQL over SSE, one stream per
  // operation, as graphql-sse's client does) and yields each event's result to GraphiQL, until
  // the stream ends or GraphiQL stops listening (a new run, or the stop button).
  function subscribe(params, opts) {
    var controller = new AbortController();
    var results = [];
    var wake = null;
    var ended = false;
    function push(r) {
      results.push(r);
      if (wake) { wake(); wake = null; }
    }
    function end() {
      ended = true;
      if (wake) { wake(); wake = null; }
    }
    var headers = Object.assign({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }, (opts && opts.headers) || {});
    fetch(config.endpoint, { method: 'POST', headers: headers, body: JSON.stringify(params), signal: controller.signal })
      .then(function (res) {
        if (!res.ok || !res.body) {
          return res.text().then(function (text) {
            try { push(JSON.parse(text)); } catch (e) { push({ errors: [{ message: res.status + ' ' + text }] }); }
            end();
          });
        }
        var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        var buffer = '';
        function read() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { end(); return; }
            buffer += chunk.value;
            var events = buffer.split('\n\n');
            buffer = events.pop();
            events.forEach(function (event) {
              var name = '', data = '';
              event.split('\n').forEach(function (line) {
                if (line.indexOf('event: ') === 0) { name = line.slice(7); }
                if (line.indexOf('data: ') === 0) { data += line.slice(6); }
              });
              if (name === 'next' && data) { push(JSON.parse(data)); }
              if (name === 'complete') { end(); }
            });
            return ended ? undefined : read();
          });
        }
        return read();
      })
      .catch(function (e) {
        if (e.name !== 'AbortError') { push({ errors: [{ message: String(e) }] }); }
        end();
      });
    var iterator = {
      next: function () {
        if (results.length) { return Promise.resolve({ value: results.shift(), done: false }); }
        if (ended) { return Promise.resolve({ value: undefined, done: true }); }
        return new Promise(function (resolve) { wake = resolve; }).then(function () { return iterator.next(); });
      },
      return: function () {
        controller.abort();
        end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
    iterator[Symbol.asyncIterator] = function () { return iterator; };
    return iterator;
  }

  var http = GraphiQL.createFetcher({ url: config.endpoint });
  var props = {
    fetcher: function (params, opts) {
      var op = operationOf(params);
      return op && op.operation === 'subscription' ? subscribe(params, opts) : http(params, opts);
    },
    // Explorer: build a query by ticking fields, for those who do not write GraphQL.
    plugins: [GraphiQLPluginExplorer.explorerPlugin()],
    defaultEditorToolsVisibility: 'headers',
    shouldPersistHeaders: false,
    storage: headerFreeStorage(),
  };
  if (config.defaultQuery) {
    props.defaultQuery = config.defaultQuery;
  }
  if (defaultHeaders) {
    props.defaultHeaders = defaultHeaders;
  }
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, props)
  );
})();
