#!/usr/bin/env node
// Patches gstreamer-superficial 1.7.x after install, then rebuilds it. Idempotent.
//
// 1. Finite bus wait. Its bus poller waits with no timeout (gst_bus_timed_pop(bus,
// GST_CLOCK_TIME_NONE)) and re-queues itself while the pipeline is not in the NULL state. A
// pipeline stopped between that check and the next wait leaves a libuv pool thread waiting forever
// on a flushing bus, and process.exit() then blocks for ever joining the pool
// (uv__threadpool_cleanup): the daemon logged "stopped" but never exited (seen under load, about
// one stop in ten). A finite wait lets the poller notice the NULL state and end. It also leaked one
// bus reference per poll (gst_element_get_bus returns a new one).
//
// 2. Pull into a caller's buffer. `appsink.pull(cb)` hands every sample over in a new Buffer (a
// copy made on the main thread): at 1080p that is 6 MB of fresh external memory a frame, and V8
// lets dead frames pile up to tens of MB between full collections, which shows as RSS (see
// src/capture/framePool.ts). `appsink.pull(cb, target)` copies the sample into `target` on the
// pull's pool thread when it fits and calls back with (target, caps, bytes); a sample larger than
// `target` comes in a new Buffer as before. `target` is held (persistent) until the callback.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

let dir;
try {
  dir = dirname(createRequire(import.meta.url).resolve("gstreamer-superficial/package.json"));
} catch {
  console.log("patchGstreamer: gstreamer-superficial is not installed; nothing to patch");
  process.exit(0);
}

const PULL_INTO = `/* linewatch: pull into a caller's buffer */
class PullIntoWorker : public Nan::AsyncWorker {
	public:
		PullIntoWorker(Nan::Callback *callback, GstAppSink *appsink, Local<Object> target)
		: AsyncWorker(callback, "node-gst-superficial.PullIntoWorker"), appsink(appsink), sample(NULL), bytes(0), fits(false) {
			SaveToPersistent("target", target);
			data = node::Buffer::Data(target);
			capacity = node::Buffer::Length(target);
		}

		void Execute() {
			sample = gst_app_sink_pull_sample(appsink);
			if (!sample) return;
			GstBuffer *b = gst_sample_get_buffer(sample);
			if (!b) return;
			bytes = gst_buffer_get_size(b);
			if (bytes <= capacity) {
				gst_buffer_extract(b, 0, data, bytes);
				fits = true;
			}
		}

		void HandleOKCallback() {
			Nan::HandleScope scope;
			Local<Value> buf;
			Local<Object> caps = Nan::New<Object>();
			if (sample) {
				GstCaps *gcaps = gst_sample_get_caps(sample);
				if (gcaps) {
					const GstStructure *structure = gst_caps_get_structure(gcaps, 0);
					if (structure) gst_structure_to_v8(caps, structure);
				}
				buf = fits ? GetFromPersistent("target") : gstsample_to_v8(sample);
				gst_sample_unref(sample);
				sample = NULL;
			} else {
				buf = Nan::Null();
			}
			Local<Value> argv[] = { buf, caps, Nan::New<v8::Number>((double)bytes) };
			callback->Call(3, argv, async_resource);
		}

	private:
		GstAppSink *appsink;
		GstSample *sample;
		char *data;
		size_t capacity;
		gsize bytes;
		bool fits;
};

NAN_METHOD(GObjectWrap::GstAppSinkPull) {
	GObjectWrap* obj = Nan::ObjectWrap::Unwrap<GObjectWrap>(info.This());
	Nan::Callback *callback = new Nan::Callback(info[0].As<Function>());
	if (info.Length() > 1 && node::Buffer::HasInstance(info[1])) {
		AsyncQueueWorker(new PullIntoWorker(callback, GST_APP_SINK(obj->obj), Nan::To<Object>(info[1]).ToLocalChecked()));
		return;
	}
	AsyncQueueWorker(new PullWorker(callback, GST_APP_SINK(obj->obj)));
}`;

const PATCHES = [
  {
    name: "finite bus wait",
    file: "Pipeline.cpp",
    mark: "/* linewatch: finite bus wait */",
    from: "br->msg = gst_bus_timed_pop(bus, GST_CLOCK_TIME_NONE);",
    to: "/* linewatch: finite bus wait */ br->msg = gst_bus_timed_pop(bus, 100 * GST_MSECOND); gst_object_unref(bus);",
  },
  {
    name: "pull into a caller's buffer",
    file: "GObjectWrap.cpp",
    mark: "/* linewatch: pull into a caller's buffer */",
    from: `NAN_METHOD(GObjectWrap::GstAppSinkPull) {
	GObjectWrap* obj = Nan::ObjectWrap::Unwrap<GObjectWrap>(info.This());
	Nan::Callback *callback = new Nan::Callback(info[0].As<Function>());
	AsyncQueueWorker(new PullWorker(callback, GST_APP_SINK(obj->obj)));
}`,
    to: PULL_INTO,
  },
];

for (const p of PATCHES) {
  const file = join(dir, p.file);
  const src = readFileSync(file, "utf8");
  if (src.includes(p.mark)) continue;
  if (!src.includes(p.from)) {
    console.error(`patchGstreamer: ${file} is not the expected 1.7.x source; not patched (${p.name})`);
    process.exit(1);
  }
  writeFileSync(file, src.replace(p.from, p.to));
  console.log(`patchGstreamer: ${p.file} patched (${p.name})`);
}
const built = join(dir, "build", "Release", "gstreamer-superficial.node");
const stamp = join(dir, "build", "linewatch-patched");
const want = `${PATCHES.map((p) => p.name).join("\n")}\n`;
if (!existsSync(built) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== want) {
  console.log("patchGstreamer: rebuilding gstreamer-superficial");
  // Through npm, so node-gyp gets npm's settings (nodedir: headers without a download).
  execFileSync("npm", ["rebuild", "gstreamer-superficial", "--foreground-scripts"], { cwd: join(dir, "..", ".."), stdio: "inherit" });
  writeFileSync(stamp, want);
}
