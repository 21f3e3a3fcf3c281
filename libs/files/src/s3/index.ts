// The S3 driver, apart from the lib's index: importing it loads the AWS SDK (files.module.ts loads it only when STORAGE_DRIVER=s3).
export * from '../storage/s3-file-storage';
