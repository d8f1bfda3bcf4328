import winston from 'winston';

export type Logger = winston.Logger;

/** Structured JSON logs on stdout; `silent` turns them off (tests). */
export function createLogger(level: string, service: string): Logger {
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}
